"""analytics: the post-stream customer database, segments and reports."""
