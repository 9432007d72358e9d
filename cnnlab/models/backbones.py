"""The pretrained backbones the lab offers: keras.applications networks, as registry data.

Why data only: the registry lists these next to the lab's own architectures, and listing
must stay cheap, so nothing here imports Keras. Each entry's builder,
`cnnlab.models.pretrained:build_<name>`, builds the backbone with random weights (the
registry's generic path, used for summaries and parameter counts); a run that asks for
ImageNet weights is built by `cnnlab.models.pretrained.build_transfer_model`, which also
freezes or fine-tunes the base as `config.transfer` says.

`APPLICATION_MIN_SIZES` holds each application's own minimum, as its
`obtain_input_shape(..., min_size=...)` call in Keras' applications source states: 32 pixels
for most, 71 for Xception, 75 for InceptionV3. `build_transfer_model` resizes smaller
images up to it inside the model, so for the lab every backbone takes images from 8 px.
"""

from __future__ import annotations

from cnnlab.models.info import ArchitectureInfo

_BUILDERS = "cnnlab.models.pretrained:build_"

BACKBONES: tuple[ArchitectureInfo, ...] = (
    ArchitectureInfo(
        name="pretrained_mobilenet_v2",
        title="MobileNetV2 (pretrained on ImageNet)",
        description=(
            "Depthwise separable convolutions in inverted residual blocks with linear "
            "bottlenecks: 2.3M parameters in the base, small and fast, a good first "
            "backbone for transfer learning."
        ),
        paper=(
            "M. Sandler, A. Howard, M. Zhu, A. Zhmoginov and L.-C. Chen, MobileNetV2: "
            "Inverted Residuals and Linear Bottlenecks, CVPR 2018."
        ),
        builder=_BUILDERS + "pretrained_mobilenet_v2",
        min_input_size=8,
    ),
    ArchitectureInfo(
        name="pretrained_resnet50",
        title="ResNet-50 (pretrained on ImageNet)",
        description=(
            "Fifty layers of bottleneck blocks with identity shortcuts, which let the "
            "gradient flow through very deep networks. 23.6M parameters in the base."
        ),
        paper=(
            "K. He, X. Zhang, S. Ren and J. Sun, Deep Residual Learning for Image "
            "Recognition, CVPR 2016."
        ),
        builder=_BUILDERS + "pretrained_resnet50",
        min_input_size=8,
    ),
    ArchitectureInfo(
        name="pretrained_vgg16",
        title="VGG16 (pretrained on ImageNet)",
        description=(
            "Thirteen 3x3 convolutions in five blocks: the lectures' pretrained base for "
            "cats vs dogs (feature extraction 95%, fine-tuning the top block 97.5%). "
            "14.7M parameters in the base."
        ),
        paper=(
            "K. Simonyan and A. Zisserman, Very Deep Convolutional Networks for "
            "Large-Scale Image Recognition, ICLR 2015."
        ),
        builder=_BUILDERS + "pretrained_vgg16",
        min_input_size=8,
    ),
    ArchitectureInfo(
        name="pretrained_efficientnet_b0",
        title="EfficientNet-B0 (pretrained on ImageNet)",
        description=(
            "Mobile inverted bottlenecks with squeeze-and-excitation, depth, width and "
            "resolution scaled together. 4.0M parameters in the base."
        ),
        paper=(
            "M. Tan and Q. V. Le, EfficientNet: Rethinking Model Scaling for Convolutional "
            "Neural Networks, ICML 2019."
        ),
        builder=_BUILDERS + "pretrained_efficientnet_b0",
        min_input_size=8,
    ),
    ArchitectureInfo(
        name="pretrained_densenet121",
        title="DenseNet-121 (pretrained on ImageNet)",
        description=(
            "Every layer of a dense block sees the feature maps of all layers before it: "
            "short paths for the gradient and feature reuse. 7.0M parameters in the base."
        ),
        paper=(
            "G. Huang, Z. Liu, L. van der Maaten and K. Q. Weinberger, Densely Connected "
            "Convolutional Networks, CVPR 2017."
        ),
        builder=_BUILDERS + "pretrained_densenet121",
        min_input_size=8,
    ),
    ArchitectureInfo(
        name="pretrained_xception",
        title="Xception (pretrained on ImageNet)",
        description=(
            "Inception taken to the extreme: depthwise separable convolutions with "
            "residual connections. 20.9M parameters in the base."
        ),
        paper=(
            "F. Chollet, Xception: Deep Learning with Depthwise Separable Convolutions, "
            "CVPR 2017."
        ),
        builder=_BUILDERS + "pretrained_xception",
        min_input_size=8,
    ),
    ArchitectureInfo(
        name="pretrained_inception_v3",
        title="Inception v3 (pretrained on ImageNet)",
        description=(
            "Inception modules: parallel 1x1, 3x3 and factorized 7x7 branches whose outputs "
            "are concatenated. 21.8M parameters in the base."
        ),
        paper=(
            "C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens and Z. Wojna, Rethinking the "
            "Inception Architecture for Computer Vision, CVPR 2016."
        ),
        builder=_BUILDERS + "pretrained_inception_v3",
        min_input_size=8,
    ),
)


def backbone_names() -> list[str]:
    """The names of the pretrained backbones, in display order."""
    return [info.name for info in BACKBONES]


def is_backbone(architecture: str) -> bool:
    """Whether `architecture` is a pretrained keras.applications backbone."""
    return any(info.name == architecture for info in BACKBONES)

# Each application's own smallest input side (its `obtain_input_shape` check). Smaller
# images are resized up to it inside the model, so the lab accepts any image from 8 px.
APPLICATION_MIN_SIZES = {
    "pretrained_mobilenet_v2": 32,
    "pretrained_resnet50": 32,
    "pretrained_vgg16": 32,
    "pretrained_efficientnet_b0": 32,
    "pretrained_densenet121": 32,
    "pretrained_xception": 71,
    "pretrained_inception_v3": 75,
}
