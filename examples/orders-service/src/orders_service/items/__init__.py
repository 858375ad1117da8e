"""Items: the example resource that shows the standard end to end."""
