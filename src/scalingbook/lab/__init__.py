"""What trains and stores: tasks and languages, the model, the population trainer, evaluation,
sweeps, vision populations, the published data, and the results store. Imports nothing above it."""
