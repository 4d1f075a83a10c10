"""segmenter: split news page dumps into the main article and its teasers; merge duplicate stories."""
from segmenter.article import LabeledBlock, Segmentation, Teaser
from segmenter.engine import segment
from segmenter.page import Page, PageError

__all__ = ["segment", "Segmentation", "Teaser", "LabeledBlock", "Page", "PageError"]
__version__ = "0.1.0"
