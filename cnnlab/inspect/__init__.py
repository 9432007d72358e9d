"""See inside a trained network: predictions, feature maps, filters, Grad-CAM, saliency,
top losses and weight distributions (the Inspect page's engine; no Streamlit).

Why our own code rather than a library: tf-keras-vis, the maintained Keras visualisation
library, targets tf.keras 2 (`tf_keras`), not Keras 3, and what the page needs is a few
Keras sub-models and one `tf.GradientTape` each (Selvaraju et al.'s Grad-CAM, Simonyan et
al.'s saliency), which are short enough to read in a lecture.
"""

from cnnlab.inspect.loading import InspectedModel, load_inspected_run
from cnnlab.inspect.views import (
    conv_layers,
    feature_maps,
    filters,
    grad_cam,
    inspectable_layers,
    predict_top_k,
    saliency,
    top_losses,
)

__all__ = ["InspectedModel", "conv_layers", "feature_maps", "filters", "grad_cam",
           "inspectable_layers", "load_inspected_run", "predict_top_k", "saliency", "top_losses"]
