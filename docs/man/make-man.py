#!/usr/bin/env python3
"""make-man.py: one Markdown source -> one man page, at build time.

Each man page has exactly one source kept by hand: usbpass(1) is docs/cli.md,
usbpassd(8) is docs/usbpassd.md and usbpassd.conf(5) is data/usbpassd.conf
itself (its comments are the documentation of every key). This script only
reshapes that source into what man(7) expects (a NAME section first, the
document's own title dropped, headings one level up) and hands it to lowdown,
so the page and the source can never drift apart.

usage: make-man.py --lowdown PATH --name NAME --section N --summary TEXT
                   [--conf] SOURCE OUTPUT
"""
import argparse
import re
import subprocess
import sys


def markdown_body(text):
    """the Markdown minus its title, with every heading one level up"""
    lines = text.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    out = []
    fenced = False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"^#{2,} ", line):
            line = line[1:]
        out.append(line)
    return "\n".join(out)


def conf_escape(text):
    """comment text is plain text, not Markdown: escape what Markdown reads"""
    return re.sub(r"([\\*_<>\[\]])", r"\\\1", text)


def conf_body(text):
    """a key file documented by its comments -> Markdown

    The leading comment block is the introduction; each [group] becomes a
    section; each commented-out key=default line becomes a definition whose
    text is the comment paragraph above it."""
    out = ["# DESCRIPTION", ""]
    paragraph = []
    intro = True
    for raw in text.splitlines():
        line = raw.rstrip()
        group = re.match(r"^\[(.+)\]$", line)
        key = re.match(r"^#\s*([a-z0-9-]+)=(.*)$", line)
        if group:
            if intro:
                out.append(" ".join(paragraph))
                out.append("")
                intro = False
            paragraph = []
            out += ["# [%s]" % group.group(1), ""]
        elif key and not intro:
            default = key.group(2) if key.group(2) else "(empty)"
            out.append("**%s**=%s" % (key.group(1), conf_escape(default)))
            out.append(": " + " ".join(paragraph))
            out.append("")
            paragraph = []
        elif line.startswith("#"):
            text_line = line[1:].strip()
            if text_line:
                paragraph.append(conf_escape(text_line))
            elif intro and paragraph:
                out.append(" ".join(paragraph))
                out.append("")
                paragraph = []
        elif not line:
            if intro and paragraph:
                out.append(" ".join(paragraph))
                out.append("")
                paragraph = []
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lowdown", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--section", required=True)
    parser.add_argument("--summary", required=True)
    parser.add_argument("--version", default="")
    parser.add_argument("--conf", action="store_true")
    parser.add_argument("source")
    parser.add_argument("output")
    args = parser.parse_args()

    with open(args.source, encoding="utf-8") as f:
        text = f.read()
    body = conf_body(text) if args.conf else markdown_body(text)
    if not args.conf:
        body = "# DESCRIPTION\n\n" + body
    markdown = "# NAME\n\n%s - %s\n\n%s\n" % (args.name, args.summary, body)
    result = subprocess.run(
        [args.lowdown, "-s", "-tman", "--out-no-smarty",
         "-M", "title=" + args.name, "-M", "section=" + args.section,
         "-M", "source=usbpass " + args.version,
         "-M", "volume=usbpass"],
        input=markdown.encode("utf-8"), capture_output=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stderr.decode("utf-8", "replace"))
        return 1
    with open(args.output, "wb") as f:
        f.write(result.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
