"""The names a spec may use outside its layers: datasets, transforms, optimizers, losses,
schedulers; and the training defaults. Kept here as plain names so that `netspec check` knows them
without torch; a test checks each against torch and torchvision."""
from __future__ import annotations

import copy
import os

from .errors import NetspecError, Problem
from .i18n import _

DEFAULT_BATCH = 64  # data.batch_size when a spec does not give it
TRAIN_DEFAULTS = {"epochs": 10, "optimizer": {"Adam": {"lr": 0.001}}, "loss": "CrossEntropyLoss",
                  "device": "auto", "seed": 0, "precision": "fp32", "channels_last": False, "compile": False}
DATA_DEFAULTS = {"transform": ["ToTensor"], "augment": [], "batch_size": DEFAULT_BATCH, "num_workers": 0}


def resolved(data: dict, default_name: str) -> dict:
    """The spec with every training default filled in, as the run folder's spec.yaml keeps it."""
    spec = copy.deepcopy(data)
    spec.setdefault("name", default_name)
    if "data" not in spec:
        raise NetspecError(Problem(_("netspec train needs a `data:` section that names the dataset"), (),
                                   (_("add e.g. `{line}`; see {example}", line="data: {dataset: digits}",
                                      example="specs/digits.yaml"),)))
    spec["data"] = DATA_DEFAULTS | spec["data"]
    spec["data"].setdefault("test_batch_size", spec["data"]["batch_size"])
    spec["train"] = TRAIN_DEFAULTS | spec.get("train", {})
    spec["output"] = {"dir": os.path.join("runs", spec["name"]), "tensorboard": True} | spec.get("output", {})
    return spec

# Each dataset, with the arguments it takes beside `root`-level data settings.
DATASETS: dict[str, dict[str, str]] = {
    "CIFAR10": {"root": "folder holding cifar-10-batches-py", "download": "true/false"},
    "CIFAR100": {"root": "folder holding cifar-100-python", "download": "true/false"},
    "MNIST": {"root": "folder holding MNIST/raw", "download": "true/false"},
    "FashionMNIST": {"root": "folder holding FashionMNIST/raw", "download": "true/false"},
    "KMNIST": {"root": "folder holding KMNIST/raw", "download": "true/false"},
    "ImageFolder": {"root": "folder with train/<class>/ and test/<class>/ (or use val_split)",
                    "val_split": "fraction held out for testing when there is no test/ folder"},
    "npz": {"root": "one .npz file with x_train, y_train, x_test, y_test (and optionally classes)"},
    "digits": {"test_split": "fraction held out for testing (default 0.2)"},
    "FakeData": {"size": "training images (default 1000)", "test_size": "test images (default 200)",
                 "num_classes": "classes (default 10)"},
}
TORCHVISION_DATASETS = ("CIFAR10", "CIFAR100", "MNIST", "FashionMNIST", "KMNIST")

# torchvision.transforms classes whose arguments are plain numbers, text and lists.
TRANSFORMS = (
    "ToTensor", "Normalize", "Resize", "CenterCrop", "RandomCrop", "RandomResizedCrop", "RandomHorizontalFlip",
    "RandomVerticalFlip", "RandomRotation", "RandomAffine", "RandomPerspective", "ColorJitter", "Grayscale",
    "RandomGrayscale", "Pad", "GaussianBlur", "RandomErasing", "RandomInvert", "RandomPosterize",
    "RandomSolarize", "RandomAdjustSharpness", "RandomAutocontrast", "RandomEqualize", "RandAugment",
    "TrivialAugmentWide", "AugMix", "ElasticTransform", "Invert",
)

OPTIMIZERS = ("ASGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "LBFGS", "NAdam", "RAdam",
              "RMSprop", "Rprop", "SGD", "SparseAdam")

LOSSES = ("BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "GaussianNLLLoss", "HingeEmbeddingLoss",
          "HuberLoss", "KLDivLoss", "L1Loss", "MSELoss", "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss",
          "MultiMarginLoss", "NLLLoss", "PoissonNLLLoss", "SmoothL1Loss", "SoftMarginLoss")
# Losses that compare the output with a target of the output's shape: class labels become one-hot.
ONE_HOT_LOSSES = ("BCELoss", "BCEWithLogitsLoss", "HuberLoss", "L1Loss", "MSELoss", "MultiLabelSoftMarginLoss",
                  "SmoothL1Loss", "SoftMarginLoss", "KLDivLoss", "PoissonNLLLoss")

SCHEDULERS = ("ConstantLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR", "ExponentialLR",
              "LinearLR", "MultiStepLR", "OneCycleLR", "PolynomialLR", "ReduceLROnPlateau", "StepLR")
PER_BATCH_SCHEDULERS = ("CyclicLR", "OneCycleLR")  # stepped after every batch, the others after every epoch
