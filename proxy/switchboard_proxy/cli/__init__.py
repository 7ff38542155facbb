"""`switchboard`: validate, compile and explain resources, and render the CRDs from the models."""
