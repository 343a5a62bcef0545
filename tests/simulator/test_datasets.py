import numpy as np
import pytest
from simhelpers import BASE, merge

from semsim.simulator.datasets import DatasetImages, Options
from semsim.simulator.errors import ScenarioError
from semsim.simulator.scenario import parse_scenario


def test_dataset_source_seeded_epochs(data_dir):
    opts = Options(name="mnist", split="test", limit=50, data_dir=str(data_dir))
    a = DatasetImages(opts, np.random.default_rng(1))
    b = DatasetImages(opts, np.random.default_rng(1))
    first = [a.next(7) for _ in range(8)]  # 56 draws: crosses one pass of 50
    again = [b.next(7) for _ in range(8)]
    for x, y in zip(first, again, strict=True):
        np.testing.assert_array_equal(x["index"], y["index"])
    idx = np.concatenate([f["index"] for f in first])
    assert sorted(idx[:50]) == list(range(50))  # each image once per pass
    out = first[0]
    assert out["images"].shape == (7, 1, 28, 28) and out["images"].dtype == np.float32
    assert 0.0 <= out["images"].min() and out["images"].max() <= 1.0
    np.testing.assert_array_equal(out["labels"], a.labels[out["index"]])
    c = DatasetImages(opts, np.random.default_rng(2))
    assert not np.array_equal(c.next(20)["index"], first[0]["index"][:20])


def test_unshuffled_order(data_dir):
    src = DatasetImages(Options(name="fashion", shuffle=False, limit=5,
                                data_dir=str(data_dir)), np.random.default_rng(0))
    assert list(src.next(7)["index"]) == [0, 1, 2, 3, 4, 0, 1]


@pytest.mark.parametrize("opts, path", [
    ({"name": "mnits"}, "source.options.name"),
    ({"split": "val"}, "source.options.split"),
    ({"limit": 0}, "source.options.limit"),
    ({"nmae": "mnist"}, "source.options.nmae"),
])
def test_bad_options_name_the_key(opts, path):
    with pytest.raises(ScenarioError) as err:
        data = merge(BASE, {})
        data["source"] = {"kind": "dataset", "options": opts}
        parse_scenario(data)
    assert path in str(err.value)
