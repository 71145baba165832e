"""itgan-replay: IT-GAN latent replay memory (framework-agnostic core; imports torch only)."""
from .augment import DSAParams, SiameseAugment, diff_augment
from .condense import CondenseConfig, CondenseJob, Condenser, plan_jobs, run_jobs
from .data import DatasetError, ImageTensors, load_dataset
from .generator import FrozenGenerator, Generator, GeneratorConfig
from .inversion import InversionConfig, NonFiniteLossError, invert
from .io import StoredFileError
from .memory import BudgetError, LatentMemory
from .nets import ConvNet, EmbeddingSampler, ResNet18, build_pool

__all__ = [
    "BudgetError", "CondenseConfig", "CondenseJob", "Condenser", "ConvNet", "DSAParams", "DatasetError",
    "EmbeddingSampler", "FrozenGenerator", "Generator", "GeneratorConfig", "ImageTensors", "InversionConfig", "LatentMemory",
    "NonFiniteLossError", "ResNet18", "SiameseAugment", "StoredFileError", "build_pool", "diff_augment",
    "invert", "load_dataset", "plan_jobs", "run_jobs",
]
__version__ = "0.1.0"
