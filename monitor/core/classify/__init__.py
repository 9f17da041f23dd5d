"""Reading notices: morphology, the classifier and its evaluation."""
