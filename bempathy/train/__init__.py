"""Fine-tuning: ``LLAMAFineTuner``, the strategies (Unsloth, plain PEFT), the trainer subclass, GPU memory estimates."""
