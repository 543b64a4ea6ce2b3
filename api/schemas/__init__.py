"""Request and response models of the HTTP doors (pydantic), one module per family."""
