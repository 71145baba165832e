"""The GAN: the generator, its folded inference form, pretraining and its quality score (CAS)."""
