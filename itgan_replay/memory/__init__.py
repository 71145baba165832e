"""The memory: the latent memory, the checked file container, and the JPEG codec of the exemplar baseline."""
