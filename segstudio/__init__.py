"""segstudio: paint segmentation labels, train models in the background, review predictions."""

__version__ = "0.1.0"
