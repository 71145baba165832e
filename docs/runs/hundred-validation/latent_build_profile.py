"""Where one experience's latent building goes at 100 classes: the `hundred` recipe on 10 classes of
tinyimagenet32-100 (all their training photos), timed by `build_latents` itself.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python docs/runs/hundred-validation/latent_build_profile.py 62:float32 125:float16 243:int8 243:int8:fast

Each argument is LATENTS_PER_CLASS:STORAGE[:fast] (fast: compiled embedding nets, bfloat16 targets and input
gradients); prints one JSON line of seconds per argument.
"""
import json
import sys
import time
from dataclasses import replace

import torch

from experiments.split_cifar100 import PRESETS
from itgan_replay.condensation.recipe import build_latents
from itgan_replay.data import load_dataset
from itgan_replay.gan.generator import FrozenGenerator
from itgan_replay.memory.latent import LatentMemory

torch.manual_seed(0)
generator = FrozenGenerator.load("generators/demo-tinyimagenet32-100-cpu.pt")
train, _ = load_dataset("imagefolder:data/tinyimagenet32-100", "data")
first = train.labels < 10
images = train.with_stats(generator.mean_values, generator.std_values).normalize(train.images[first])
for arg in sys.argv[1:]:
    per_class, storage, *fast = arg.split(":")
    recipe = PRESETS["hundred"].itgan.recipe
    if fast:
        recipe = replace(recipe, condense=replace(recipe.condense, compile=True, real_dtype="bfloat16",
                                                  input_grad_dtype="bfloat16"))
    start = time.perf_counter()
    built = build_latents(generator, images, train.labels[first], list(range(10)), int(per_class), recipe, 0,
                          LatentMemory(generator, storage).condense_codec)
    print(json.dumps({"per_class": int(per_class), "dtype": storage, "fast": bool(fast), "threads": torch.get_num_threads(),
                      "total": round(time.perf_counter() - start, 1), **{k: round(v, 1) for k, v in built.seconds.items()}}),
          flush=True)
