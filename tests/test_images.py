"""The image cache of images.yml, on this machine's engine: an unchanged recipe builds nothing,
a changed one builds a new tag. Needs no deployed stack; it builds from a copy of images/."""

import json
import shutil
import subprocess

from project import ROOT


def test_an_unchanged_recipe_builds_nothing_and_a_changed_one_builds_a_new_tag(playbook, tmp_path):
    images = tmp_path / "images"
    shutil.copytree(ROOT / "images", images)
    only_redis = ["-e", json.dumps({"images_recipes": ["redis"], "stack_images_dir": str(images)})]

    unchanged = playbook("images.yml", *only_redis)
    assert unchanged.rc == 0, unchanged.output[-3000:]
    assert unchanged.changed() == 0, unchanged.changed_tasks()

    with (images / "redis" / "Dockerfile").open("a") as dockerfile:
        dockerfile.write("LABEL org.auterity.test=changed-recipe\n")
    changed = playbook("images.yml", *only_redis)
    assert changed.rc == 0, changed.output[-3000:]
    assert changed.changed() > 0
    built = [name for name in changed.changed_tasks() if name.startswith("Build | docker build - ")]
    assert built, changed.changed_tasks()
    new_tag = built[0].removeprefix("Build | docker build - ")
    try:
        labels = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", new_tag],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert json.loads(labels)["org.auterity.test"] == "changed-recipe"

        again = playbook("images.yml", *only_redis)
        assert again.rc == 0, again.output[-3000:]
        assert again.changed() == 0, again.changed_tasks()
    finally:
        subprocess.run(["docker", "image", "rm", new_tag], capture_output=True, check=False)
