"""What both sides share and nothing of the model: sessions and their files, background jobs,
progress, input checks, user errors, prompts, packed masks, drawing, export writers, request
limits. Imports nothing of ``ui`` above it and no Gradio."""
