"""Report building blocks for the notebooks: data assembly, figures, display helpers."""
