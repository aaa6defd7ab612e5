"""Edit real photos: invert a photo into the generator (latent, then an image-specific adaptation), then
paint on it with the same unit edits as samples, composited so that pixels far from the edit stay the photo's.
See docs/photos.md."""

from ganscope.photos.adapt import PhotoGenerator
from ganscope.photos.images import read_photo
from ganscope.photos.invert import Inversion, invert

__all__ = ["Inversion", "PhotoGenerator", "invert", "read_photo"]
