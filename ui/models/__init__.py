"""Which models the app offers and whether each can load here: names, the registry that builds
and caches predictors, and the offline probe. No Gradio."""
