import json
import math

import pytest
import torch

from conftest import smoke_stream, write_image_folder
from itgan_replay.memory.privacy import feature_distances, pairwise_psnr, reidentification


def test_psnr_matches_hand_computed_values():
    a = torch.zeros(2, 3, 2, 2)
    a[1] += 0.5
    b = torch.stack([torch.zeros(3, 2, 2), torch.full((3, 2, 2), 0.1)])
    psnr = pairwise_psnr(a, b, chunk=1)
    assert psnr.shape == (2, 2) and math.isinf(psnr[0, 0])
    assert psnr[0, 1] == pytest.approx(20.0)  # mse 0.01: -10 log10(0.01)
    assert psnr[1, 0] == pytest.approx(-10 * math.log10(0.25))
    assert psnr[1, 1] == pytest.approx(-10 * math.log10(0.16))


def test_reidentification_finds_the_source_only_when_it_is_the_nearest_photo():
    photos = torch.stack([torch.full((3, 4, 4), v) for v in (0.0, 0.3, 0.6, 0.9)])
    returned = torch.stack([photos[2] + 0.01, photos[1] + 0.2])  # the second sample is nearer photo 2 than its source 1
    out = reidentification(returned, photos, torch.tensor([2, 1]), pairwise_psnr, higher_is_closer=True)
    assert out["identified"].tolist() == [True, False]
    assert out["to_source"][0] == pytest.approx(40.0) and out["to_nearest_other"][1] == pytest.approx(-10 * math.log10(0.01))
    by_distance = reidentification(returned, photos, torch.tensor([2, 1]), feature_distances(lambda x: x.flatten(1)),
                                   higher_is_closer=False)
    assert by_distance["identified"].tolist() == [True, False]
    assert by_distance["to_source"][1] == pytest.approx(0.2 * math.sqrt(48), rel=1e-5)
    with pytest.raises(ValueError, match="at least 2 photos"):
        reidentification(returned[:1], photos[:1], torch.tensor([0]), pairwise_psnr, higher_is_closer=True)


def test_privacy_report_runs_every_attack_with_its_null_and_raw_exemplars_give_their_photos_back(tmp_path, capsys):
    from experiments.privacy_report import main

    _, dataset, generator = smoke_stream(tmp_path)
    more = write_image_folder(tmp_path / "more", ["0", "1", "2", "3"], n_train=24, seed=1)  # never in the stream
    args = ["--dataset", dataset, "--feature-dataset", f"imagefolder:{more}", "--generator", str(generator), "--preset",
            "smoke", "--experiences", "2", "--feature-epochs", "1", "--out", str(tmp_path / "out"), "--no-progress"]
    assert main(args + ["--experiences", "3"]) == 2
    assert capsys.readouterr().err == "error: 3 experiences cannot split 4 classes evenly\n"
    assert main(args) == 0
    report = json.loads((tmp_path / "out/privacy.json").read_text())
    memories = report["memories"]
    assert list(memories) == ["inversion", "itgan", "itgan-random", "jpeg", "exemplar"]
    assert "identification" not in memories["itgan-random"]  # no latent starts from a photo
    exemplar = memories["exemplar"]["identification"]["psnr"]
    assert exemplar["identified_rate"] == 1.0 and exemplar["to_source"]["infinite"] == exemplar["samples"] > 0
    assert exemplar["null_identified_rate"] <= 0.25  # with its sources swapped for stand-ins: about chance (1/12)
    assert memories["exemplar"]["membership"]["pixels"]["auc"] == 1.0  # every member is returned as it is
    assert memories["exemplar"]["membership"]["pixels"]["tpr_at_fpr"] == 1.0
    inversion = memories["inversion"]["identification"]
    assert inversion["latent_with_seeds"]["identified_rate"] == 1.0  # with the seeds its latents are recomputed exactly
    assert set(memories["itgan"]["identification"]) == {"psnr", "feature", "latent", "latent_with_seeds"}
    assert set(memories["itgan"]["membership"]) == {"pixels", "latent"} and "latent" not in memories["jpeg"]["membership"]
    assert memories["itgan"]["identification"]["psnr"]["samples"] == exemplar["samples"]
    assert memories["itgan"]["identification"]["psnr"]["chance_rate"] == pytest.approx(1 / 12)
    settings = report["settings"]
    assert settings["generator_trained_on"] == "imagefolder:pretrain-photos" and settings["generator_file"].endswith("g.pt")
    assert (settings["generator_storage_dtype"], settings["latent_storage_dtype"]) == ("float32", "float32")  # smoke
    assert "the attacker holds the generator, the memory and every training photo" in report["threat_model"]
    assert (tmp_path / "out/privacy.png").stat().st_size > 1000
    parts = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out/parts").iterdir()}
    assert set(parts) == {"inversion.pt", "itgan.pt", "itgan-random.pt", "attacker.pt"}
    assert main(args) == 0  # resumes from its parts: nothing rebuilt, the same report
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out/parts").iterdir()} == parts
    assert json.loads((tmp_path / "out/privacy.json").read_text())["memories"] == memories
    assert main([*args, "--preset", "quick"]) == 2  # parts of other settings are refused, not mixed
    assert "was made at other settings" in capsys.readouterr().err
    assert main([*args[:3], dataset, *args[4:], "--out", str(tmp_path / "other")]) == 2  # non-members from the stream's own photos would be members
    assert "the report needs 24" in capsys.readouterr().err


def test_membership_auc_and_tpr_match_hand_computed_values():
    from itgan_replay.memory.privacy import best_match, membership_auc, tpr_at_fpr

    members, nonmembers = torch.tensor([3.0, 2.0]), torch.tensor([1.0, 2.0])
    assert membership_auc(members, nonmembers) == 0.875  # pairs: 3>1, 3>2, 2>1, 2=2 (half): 3.5 of 4
    assert membership_auc(nonmembers, members) == 0.125 and membership_auc(members, members) == 0.5
    scores = torch.arange(10.0)
    assert tpr_at_fpr(torch.tensor([9.5, 8.5, 7.0]), scores, 0.0) == pytest.approx(1 / 3)  # threshold 9: only 9.5 above
    assert tpr_at_fpr(torch.tensor([9.5, 8.5, 7.0]), scores, 0.25) == pytest.approx(2 / 3)  # 2 of 10 above 7 allowed
    with pytest.raises(ValueError, match="fpr must lie in"):
        tpr_at_fpr(members, nonmembers, 1.0)
    photos = torch.tensor([[0.0], [1.0], [5.0]])
    returned = torch.tensor([[0.5], [4.0]])
    assert best_match(photos, returned, torch.cdist, higher_is_closer=False).tolist() == [-0.5, -0.5, -1.0]
