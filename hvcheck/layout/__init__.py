"""Memory and resource layout: the model, the interval engine, loaders and rules M001-M014."""
