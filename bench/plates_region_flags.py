"""How often a hit on the US sets would be flagged ``other_region`` (hotlist entries naming a region).

Every plate of ``../shared/data/plates/{crops,us}`` is a US plate, so a flag on an entry listed
for ``us`` is a false alarm, and a flag on one listed for ``uk`` / ``eu`` / ``br`` is a true one.
Each image's best read (the default reader; crops by ``read_crop``, scenes by ``read_scene``) is
taken as a one-read track, as the plates stage would vote it, with the default ``regions`` (us).

    .venv/bin/python bench/plates_region_flags.py [N]   # N: first N images of each set
"""

from __future__ import annotations

import json
import sys
from collections import Counter

from benchlib import SHARED_DATA, models_dir
from vigil.config.plates import PlatesConfig
from vigil.plates.eval import load_labels, read_image
from vigil.plates.hotlist import ReadOrigin, other_region
from vigil.plates.vote import vote
from vigil.workers.plates_stage import build_plate_reader

LISTED = ("us", "uk", "eu", "br")


def main() -> int:
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else None
    cfg = PlatesConfig()
    reader = build_plate_reader(cfg, models_dir())
    out: dict[str, object] = {}
    for folder in ("crops", "us"):
        layout, items = load_labels(SHARED_DATA / "plates" / folder)
        items = items[:limit]
        flagged: Counter[str] = Counter()
        countries: Counter[str] = Counter()
        right = 0
        for item in items:
            image = read_image(item.image)
            read = reader.read_crop(image) if layout == "crops" else next(iter(reader.read_scene(image)), None)
            voted = vote([read]) if read is not None else None
            if voted is None:
                continue
            right += voted.text == item.plate
            countries[f"{voted.country} ({voted.best.reader})"] += 1
            origin = ReadOrigin(
                voted.country, voted.country_confidence, voted.best.region, voted.best.strict, cfg.regions
            )
            for listed in LISTED:
                flagged[listed] += other_region(listed, origin) is not None
        out[folder] = {
            "n": len(items),
            "read_right": right,
            "flagged_if_listed_for": dict(flagged),
            "countries": dict(countries.most_common(8)),
        }
        print(folder, json.dumps(out[folder]), flush=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
