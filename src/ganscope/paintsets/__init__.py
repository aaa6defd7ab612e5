"""Paint sets: for each concept and each of draw and remove, the causal unit set a paint button edits.

``compute_paint_sets(session, results, out=DIR)`` trains and chooses them (``ganscope paint-sets``);
``PaintSets.load(DIR)`` reads them back, validated; ``benchmark`` scores any palette on held-out samples.
"""

from ganscope.paintsets.choose import compute_paint_sets, paint_layers
from ganscope.paintsets.measure import ConceptScore, benchmark
from ganscope.paintsets.spots import WORLD_CONTEXTS, Context, contexts_for
from ganscope.paintsets.store import PAINT_SETS_FILE, PaintSet, PaintSets

__all__ = ["PAINT_SETS_FILE", "WORLD_CONTEXTS", "ConceptScore", "Context", "PaintSet", "PaintSets", "benchmark",
           "compute_paint_sets", "contexts_for", "paint_layers"]
