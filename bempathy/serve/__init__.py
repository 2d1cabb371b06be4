"""What the app serves and how a message becomes an answer; never imports the trainer, trl or datasets."""
