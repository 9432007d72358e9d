"""The architecture registry: which networks the lab offers, as plain data.

Why a registry of plain data: the config validates `architecture` against this list, and a
page fills its select box from it, long before anything is trained. Importing TensorFlow
takes seconds, so this module names each builder as a "module:function" string and imports
it only when a model is actually built (`cnnlab.models.build`).
"""

from __future__ import annotations

from cnnlab.models.backbones import BACKBONES
from cnnlab.models.info import ArchitectureInfo

ARCHITECTURES: dict[str, ArchitectureInfo] = {
    info.name: info
    for info in (
        ArchitectureInfo(
            name="small_convnet",
            title="Small convnet (lectures)",
            description=(
                "Four 3x3 conv + 2x2 max-pool blocks (32, 64, 128, 128 filters), then a "
                "512-unit dense layer: the lectures' cats-vs-dogs model, which overfits on "
                "small data until dropout and augmentation are switched on."
            ),
            paper=(
                "F. Chollet, Deep Learning with Python, Manning 2017, ch. 5.2 "
                "(training a convnet from scratch on a small dataset)."
            ),
            builder="cnnlab.models.small_convnet:build_small_convnet",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="lenet5",
            title="LeNet-5",
            description=(
                "The classic digit recognizer: two 5x5 tanh convolutions with average "
                "pooling, then 120 and 84 dense units. About 60k parameters."
            ),
            paper=(
                "Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, Gradient-based learning "
                "applied to document recognition, Proc. IEEE 86(11), 1998."
            ),
            builder="cnnlab.models.lenet:build_lenet5",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="deep_plain",
            title="Deep plain network (10 layers)",
            description=(
                "Two 3x3 conv blocks and eight narrow dense layers with no shortcut: deep "
                "enough that sigmoid units make the gradients vanish (the first layer's is "
                "1e-6 of the last's), and ReLU, He initialization or batch norm on the "
                "dense layers bring them back (0.6 with sigmoid; batch norm on the two "
                "convolutions alone leaves 1e-5)."
            ),
            paper=(
                "X. Glorot and Y. Bengio, Understanding the difficulty of training deep "
                "feedforward neural networks, AISTATS 2010."
            ),
            builder="cnnlab.models.deep_plain:build_deep_plain",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="mlp",
            title="Dense network (MLP 300-100)",
            description=(
                "No convolutions: the flattened image through dense layers of 300 and 100 "
                "units. The lectures' batch-norm example: with dense batch norm after the "
                "activation, 271,346 parameters on 28x28 images, 2,368 non-trainable."
            ),
            paper=(
                "A. Géron, Hands-On Machine Learning with Scikit-Learn, Keras and "
                "TensorFlow, O'Reilly 2019, ch. 11 (batch normalization)."
            ),
            builder="cnnlab.models.mlp:build_mlp",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="alexnet",
            title="AlexNet (scaled)",
            description=(
                "Five convolutions with overlapping max pools and two dense layers, ReLU "
                "throughout: the 2012 ImageNet winner, with a 5x5 first filter instead of "
                "11x11/4 and half the filters for small images."
            ),
            paper=(
                "A. Krizhevsky, I. Sutskever and G. E. Hinton, ImageNet Classification with "
                "Deep Convolutional Neural Networks, NIPS 2012."
            ),
            builder="cnnlab.models.alexnet:build_alexnet",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="vgg11",
            title="VGG-11 (scaled)",
            description=(
                "Eight 3x3 convolutions in five blocks, each closed by a max pool, then two "
                "dense layers (configuration A); half the paper's filters."
            ),
            paper=(
                "K. Simonyan and A. Zisserman, Very Deep Convolutional Networks for "
                "Large-Scale Image Recognition, ICLR 2015."
            ),
            builder="cnnlab.models.vgg:build_vgg11",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="vgg13",
            title="VGG-13 (scaled)",
            description=(
                "Ten 3x3 convolutions, two per block (configuration B), then two dense "
                "layers; half the paper's filters."
            ),
            paper=(
                "K. Simonyan and A. Zisserman, Very Deep Convolutional Networks for "
                "Large-Scale Image Recognition, ICLR 2015."
            ),
            builder="cnnlab.models.vgg:build_vgg13",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="vgg16",
            title="VGG-16 (scaled)",
            description=(
                "Thirteen 3x3 convolutions (configuration D) and two dense layers: depth "
                "from small filters. Half the paper's filters; 3.8M parameters."
            ),
            paper=(
                "K. Simonyan and A. Zisserman, Very Deep Convolutional Networks for "
                "Large-Scale Image Recognition, ICLR 2015."
            ),
            builder="cnnlab.models.vgg:build_vgg16",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="nin",
            title="Network-in-Network",
            description=(
                "Three mlpconv blocks (a convolution followed by 1x1 convolutions, a tiny "
                "MLP at every pixel) and global average pooling instead of dense layers."
            ),
            paper="M. Lin, Q. Chen and S. Yan, Network In Network, ICLR 2014.",
            builder="cnnlab.models.nin:build_nin",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="inception",
            title="Inception / GoogLeNet (scaled)",
            description=(
                "Inception modules: parallel 1x1, 3x3, 5x5 and pooling branches, with 1x1 "
                "convolutions reducing the channels first. Five modules at half width."
            ),
            paper=(
                "C. Szegedy et al., Going Deeper with Convolutions, CVPR 2015."
            ),
            builder="cnnlab.models.inception:build_inception",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="inception_aux",
            title="Inception / GoogLeNet with auxiliary classifier",
            description=(
                "The scaled Inception network plus GoogLeNet's auxiliary classifier on "
                "module 4a: its loss (weight 0.3) pushes gradient into the middle layers "
                "during training; it is dropped at inference."
            ),
            paper=(
                "C. Szegedy et al., Going Deeper with Convolutions, CVPR 2015."
            ),
            builder="cnnlab.models.inception:build_inception_aux",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="resnet8",
            title="ResNet-8 (CIFAR-style)",
            description=(
                "Three stages of one residual block each (16, 32, 64 filters): the smallest "
                "residual network, quick to train."
            ),
            paper=(
                "K. He, X. Zhang, S. Ren and J. Sun, Deep Residual Learning for Image "
                "Recognition, CVPR 2016."
            ),
            builder="cnnlab.models.resnet:build_resnet8",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="resnet20",
            title="ResNet-20 (CIFAR-style)",
            description=(
                "Three stages of three residual blocks: shortcuts carry the signal and the "
                "gradient past each block. 0.27M parameters."
            ),
            paper=(
                "K. He, X. Zhang, S. Ren and J. Sun, Deep Residual Learning for Image "
                "Recognition, CVPR 2016."
            ),
            builder="cnnlab.models.resnet:build_resnet20",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="resnet56",
            title="ResNet-56 (CIFAR-style)",
            description=(
                "Three stages of nine residual blocks, 56 layers: deep, yet it trains, "
                "unlike its plain twin. 0.85M parameters."
            ),
            paper=(
                "K. He, X. Zhang, S. Ren and J. Sun, Deep Residual Learning for Image "
                "Recognition, CVPR 2016."
            ),
            builder="cnnlab.models.resnet:build_resnet56",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="resnet34",
            title="ResNet-34 (ImageNet-style)",
            description=(
                "A 7x7/2 convolution and max pool, then basic blocks [3, 4, 6, 3] with 64 "
                "to 512 filters and projection shortcuts. 21.3M parameters."
            ),
            paper=(
                "K. He, X. Zhang, S. Ren and J. Sun, Deep Residual Learning for Image "
                "Recognition, CVPR 2016."
            ),
            builder="cnnlab.models.resnet:build_resnet34",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="resnet50",
            title="ResNet-50 (ImageNet-style)",
            description=(
                "Bottleneck blocks [3, 4, 6, 3]: 1x1 convolutions shrink and restore the "
                "channels around each 3x3 one. 23.5M parameters."
            ),
            paper=(
                "K. He, X. Zhang, S. Ren and J. Sun, Deep Residual Learning for Image "
                "Recognition, CVPR 2016."
            ),
            builder="cnnlab.models.resnet:build_resnet50",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="plain20",
            title="Plain-20 (ResNet-20 without shortcuts)",
            description=(
                "ResNet-20 with every shortcut removed, the same layers and parameters: "
                "the paper's baseline."
            ),
            paper=(
                "K. He, X. Zhang, S. Ren and J. Sun, Deep Residual Learning for Image "
                "Recognition, CVPR 2016."
            ),
            builder="cnnlab.models.resnet:build_plain20",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="plain56",
            title="Plain-56 (ResNet-56 without shortcuts)",
            description=(
                "ResNet-56 with every shortcut removed: deeper, yet it trains worse than "
                "plain-20, the degradation problem that residual connections cure."
            ),
            paper=(
                "K. He, X. Zhang, S. Ren and J. Sun, Deep Residual Learning for Image "
                "Recognition, CVPR 2016."
            ),
            builder="cnnlab.models.resnet:build_plain56",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="densenet",
            title="DenseNet-BC-40 (k=12)",
            description=(
                "Three dense blocks in which every layer sees the maps of all layers before "
                "it and adds 12 of its own, joined by compressing transitions. 0.18M "
                "parameters."
            ),
            paper=(
                "G. Huang, Z. Liu, L. van der Maaten and K. Q. Weinberger, Densely Connected "
                "Convolutional Networks, CVPR 2017."
            ),
            builder="cnnlab.models.densenet:build_densenet",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="mobilenet",
            title="MobileNet",
            description=(
                "Thirteen depthwise separable convolutions (a 3x3 filter per channel, then "
                "a 1x1 mixing the channels): about 8x cheaper than full convolutions."
            ),
            paper=(
                "A. G. Howard et al., MobileNets: Efficient Convolutional Neural Networks "
                "for Mobile Vision Applications, arXiv:1704.04861, 2017."
            ),
            builder="cnnlab.models.mobilenet:build_mobilenet",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="mobilenet_half",
            title="MobileNet (width 0.5)",
            description=(
                "MobileNet with width multiplier 0.5: half the filters in every layer, "
                "about a quarter of the parameters and of the cost."
            ),
            paper=(
                "A. G. Howard et al., MobileNets: Efficient Convolutional Neural Networks "
                "for Mobile Vision Applications, arXiv:1704.04861, 2017."
            ),
            builder="cnnlab.models.mobilenet:build_mobilenet_half",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="mobilenet_v2",
            title="MobileNetV2",
            description=(
                "Inverted residual blocks: expand with a 1x1, filter depthwise, project back "
                "linearly to a narrow bottleneck, with shortcuts between bottlenecks."
            ),
            paper=(
                "M. Sandler, A. Howard, M. Zhu, A. Zhmoginov and L.-C. Chen, MobileNetV2: "
                "Inverted Residuals and Linear Bottlenecks, CVPR 2018."
            ),
            builder="cnnlab.models.mobilenet:build_mobilenet_v2",
            min_input_size=8,
        ),
        ArchitectureInfo(
            name="efficientnet_small",
            title="EfficientNet (B0 scaled to width 0.5, depth 0.5)",
            description=(
                "MBConv blocks (inverted residuals with squeeze-and-excitation and swish), "
                "B0 scaled down by the paper's compound rule."
            ),
            paper=(
                "M. Tan and Q. V. Le, EfficientNet: Rethinking Model Scaling for "
                "Convolutional Neural Networks, ICML 2019."
            ),
            builder="cnnlab.models.efficientnet:build_efficientnet_small",
            min_input_size=8,
        ),
    )
}
# The pretrained keras.applications backbones come last (data only, no keras import).
ARCHITECTURES.update({info.name: info for info in BACKBONES})


def architecture_names() -> list[str]:
    """The registered architecture names, in display order."""
    return list(ARCHITECTURES)


def get_architecture(name: str) -> ArchitectureInfo:
    """The registry entry for `name`; a ValueError listing the choices if there is none."""
    try:
        return ARCHITECTURES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown `architecture`. Expected one of {architecture_names()}. "
            f"Received: {name!r}."
        ) from None
