"""Text processing: jieba segmentation, folding, highlighting."""
