"""Condensation: differentiable augmentation, embedding nets, GAN inversion, distribution matching, and its distributed runner."""
