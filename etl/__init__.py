"""Getting data in and out: importers, validation, exports, the sample district."""
