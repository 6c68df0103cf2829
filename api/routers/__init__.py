"""One small router per resource; views are thin and call service functions."""
