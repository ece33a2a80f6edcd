"""ILSVRC classification winners: the published top-5 errors and the notes' 28.2% → 3.5% trend."""

from explorer.core.notes import ilsvrc


def test_ilsvrc_winners_published_figures():
    years = {r.year: (r.team, r.top5_error) for r in ilsvrc.WINNERS}
    assert years == {2010: ("NEC-UIUC", 28.2), 2011: ("XRCE", 25.8), 2012: ("SuperVision", 16.4),
                     2013: ("Clarifai", 11.7), 2014: ("GoogLeNet", 6.7), 2015: ("MSRA", 3.57)}


def test_ilsvrc_error_falls_every_year_and_matches_notes_endpoints():
    errors = [r.top5_error for r in sorted(ilsvrc.WINNERS, key=lambda r: r.year)]
    assert all(a > b for a, b in zip(errors, errors[1:]))
    assert errors[0] == 28.2 and round(errors[-1], 1) == 3.6 and int(errors[-1] * 10) / 10 == 3.5
    assert round(ilsvrc.improvement(), 1) == round(28.2 / 3.57, 1)


def test_ilsvrc_models_named():
    models = {r.year: r.model for r in ilsvrc.WINNERS}
    assert models[2012] == "AlexNet" and models[2015] == "ResNet" and "GoogLeNet" in models[2014]
    assert any(o.team == "VGG" and o.top5_error == 7.3 for o in ilsvrc.OTHERS)
