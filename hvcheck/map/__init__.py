"""The memory-map view of the layout model (`hvcheck map`): a view, never a check.

- :mod:`hvcheck.map.export`: the model as JSON (the ``layout`` key of `hvcheck layout --format json`
  and of `hvcheck map --format json`; docs/layout-model.schema.json);
- :mod:`hvcheck.map.geometry`: model + findings -> lanes, items, finding marks and a scale that
  collapses empty gaps and gives every elementary range a readable height;
- :mod:`hvcheck.map.overview`: the grouped low-zoom view of large layouts;
- :mod:`hvcheck.map.svg`, :mod:`hvcheck.map.html`, :mod:`hvcheck.map.text`: the renderers.

Nothing here imports a format loader: the map reads :class:`hvcheck.layout.model.System`, so a
new input format needs no change here (tests/test_import_layers.py).
"""
