"""Data augmentation: the pipeline training runs, its preview, and its code.

`pipeline` builds the Keras layers and the tf.data pipelines from an AugmentationConfig,
`layers` holds the lab's own layers, `preview` what the Augment page draws, `code` the
pipeline as Keras code that runs without cnnlab. Each imports TensorFlow: import the one
you need.
"""
