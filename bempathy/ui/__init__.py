"""The Gradio app, one module per tab; the library never imports this package.

``context`` holds what the tabs share (the model, the logs, the safety policy); ``app`` assembles the tabs;
``space`` adapts to Hugging Face Spaces (ZeroGPU, persistent logs).
"""
