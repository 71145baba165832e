"""itgan-replay: IT-GAN latent replay memory (framework-agnostic core; imports torch only)."""
from .condensation.augment import DSAParams, SiameseAugment, diff_augment
from .condensation.condense import CondenseConfig, CondenseJob, Condenser, plan_jobs, run_jobs
from .condensation.inversion import InversionConfig, NonFiniteLossError, invert
from .condensation.nets import ConvNet, EmbeddingSampler, ResNet18, build_pool
from .condensation.recipe import LatentRecipe, build_latents
from .data import DatasetError, ImageTensors, load_dataset
from .gan.generator import FrozenGenerator, Generator, GeneratorConfig
from .memory.files import StoredFileError
from .memory.latent import BudgetError, LatentMemory

__all__ = [
    "BudgetError", "CondenseConfig", "CondenseJob", "Condenser", "ConvNet", "DSAParams", "DatasetError",
    "EmbeddingSampler", "FrozenGenerator", "Generator", "GeneratorConfig", "ImageTensors", "InversionConfig", "LatentMemory",
    "LatentRecipe", "build_latents",
    "NonFiniteLossError", "ResNet18", "SiameseAugment", "StoredFileError", "build_pool", "diff_augment",
    "invert", "load_dataset", "plan_jobs", "run_jobs",
]
__version__ = "0.1.0"
