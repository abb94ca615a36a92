#!/usr/bin/python3
"""OpenAI CLIP's simple_tokenizer algorithm (clip/simple_tokenizer.py), plus DeCLIP's variant
(<|mask|> = 49406, SOT = 49407, EOT = 49408), used to produce parity fixtures and as the benchmark baseline.

Run with Debian's /usr/bin/python3 (python3-regex). ftfy is used when importable; Debian bookworm has no
python3-ftfy, so without it the ftfy.fix_text step is replaced by unicodedata NFC normalisation
(the fixtures record "ftfy": false in that case).

Usage:
  clip_tokenizer_reference.py --vocab V.txt.gz [--variant openai|declip] [--context 77] cases IN.json OUT.json
      IN.json: [{"text": ..., "variant"?: ..., "context"?: ...}] -> adds "ids" (framed, truncated open_clip style,
      unpadded) and "bpe" (content ids)
  clip_tokenizer_reference.py --vocab V.txt.gz digest CAPTIONS.txt   -> sha256 over all framed id lists, one per line
  clip_tokenizer_reference.py --vocab V.txt.gz bench CAPTIONS.txt    -> JSON timing line (cold BPE cache)
"""
import argparse
import gzip
import hashlib
import html
import json
import sys
import time
import unicodedata
from functools import lru_cache

try:
    import regex as re
except ImportError:
    sys.exit("error: the reference needs the `regex` module: apt-get install python3-regex (run with /usr/bin/python3)")

try:
    import ftfy  # type: ignore
    HAVE_FTFY = True
except ImportError:
    HAVE_FTFY = False


@lru_cache()
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    cs = [chr(n) for n in cs]
    return dict(zip(bs, cs))


def get_pairs(word):
    pairs = set()
    prev_char = word[0]
    for char in word[1:]:
        pairs.add((prev_char, char))
        prev_char = char
    return pairs


def basic_clean(text):
    text = ftfy.fix_text(text) if HAVE_FTFY else unicodedata.normalize("NFC", text)
    text = html.unescape(html.unescape(text))
    return text.strip()


def whitespace_clean(text):
    text = re.sub(r"\s+", " ", text)
    return text.strip()


class SimpleTokenizer(object):
    def __init__(self, bpe_path, variant="openai"):
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        lines = gzip.open(bpe_path).read().decode("utf-8").split("\n")
        if lines[0].startswith('"bpe_simple_vocab_16e6.txt'):
            merges = lines[1:49152 - 256 - 2 + 1]
        else:  # a trained vocab: all of its merges
            merges = [l for l in lines[1:] if l]
        merges = [tuple(merge.split()) for merge in merges]
        vocab = list(bytes_to_unicode().values())
        vocab = vocab + [v + "</w>" for v in vocab]
        for merge in merges:
            vocab.append("".join(merge))
        specials = ["<|startoftext|>", "<|endoftext|>"]
        if variant == "declip":
            specials = ["<|mask|>"] + specials
        vocab.extend(specials)
        self.encoder = dict(zip(vocab, range(len(vocab))))
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.bpe_ranks = dict(zip(merges, range(len(merges))))
        self.cache = {s: s for s in specials}
        alternatives = "|".join(re.escape(s) for s in specials)
        self.pat = re.compile(alternatives + r"""|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", re.IGNORECASE)
        self.sot = self.encoder["<|startoftext|>"]
        self.eot = self.encoder["<|endoftext|>"]

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        pairs = get_pairs(word)
        if not pairs:
            return token + "</w>"
        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        word = " ".join(word)
        self.cache[token] = word
        return word

    def encode(self, text):
        bpe_tokens = []
        text = whitespace_clean(basic_clean(text)).lower()
        for token in re.findall(self.pat, text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            bpe_tokens.extend(self.encoder[bpe_token] for bpe_token in self.bpe(token).split(" "))
        return bpe_tokens

    def decode(self, tokens):
        text = "".join([self.decoder[token] for token in tokens])
        return bytearray([self.byte_decoder[c] for c in text]).decode("utf-8", errors="replace").replace("</w>", " ")

    def framed(self, text, context=77):
        """open_clip: [SOT] + ids + [EOT]; over-long -> first `context` ids with the last forced to EOT."""
        tokens = [self.sot] + self.encode(text) + [self.eot]
        if len(tokens) > context:
            tokens = tokens[:context]
            tokens[-1] = self.eot
        return tokens


def read_lines(path):
    """One caption per line; a Flickr8k-style "image,caption" CSV yields the caption column."""
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f]
    if lines and lines[0] == "image,caption":
        lines = [l.split(",", 1)[1] for l in lines[1:] if "," in l]
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--variant", default="openai", choices=["openai", "declip"])
    ap.add_argument("--context", type=int, default=77)
    ap.add_argument("command", choices=["cases", "digest", "bench"])
    ap.add_argument("inputs", nargs="+")
    args = ap.parse_args()
    if not HAVE_FTFY:
        print("note: ftfy not importable; using NFC in place of ftfy.fix_text", file=sys.stderr)

    if args.command == "cases":
        src, dst = args.inputs
        cases = json.load(open(src, encoding="utf-8"))
        toks = {}
        for case in cases:
            variant = case.get("variant", args.variant)
            if variant not in toks:
                toks[variant] = SimpleTokenizer(args.vocab, variant)
            tok = toks[variant]
            context = case.get("context", args.context)
            case["bpe"] = tok.encode(case["text"])
            case["ids"] = tok.framed(case["text"], context)
            case["decoded"] = tok.decode(case["bpe"])
        out = {"generator": "reference/clip_tokenizer_reference.py", "ftfy": HAVE_FTFY, "cases": cases}
        with open(dst, "w", encoding="utf-8") as f:
            json.dump(out, f, ensure_ascii=False, indent=1)
            f.write("\n")
    elif args.command == "digest":
        tok = SimpleTokenizer(args.vocab, args.variant)
        h = hashlib.sha256()
        lines = read_lines(args.inputs[0])
        for line in lines:
            h.update((json.dumps(tok.framed(line, args.context), separators=(",", ":")) + "\n").encode())
        print(json.dumps({"lines": len(lines), "sha256": h.hexdigest(), "ftfy": HAVE_FTFY}))
    else:
        t0 = time.perf_counter()
        tok = SimpleTokenizer(args.vocab, args.variant)
        load = time.perf_counter() - t0
        lines = read_lines(args.inputs[0])
        t1 = time.perf_counter()
        n_ids = 0
        for line in lines:
            n_ids += len(tok.framed(line, args.context))
        dt = time.perf_counter() - t1
        print(json.dumps({"captions": len(lines), "ids": n_ids, "load_s": load, "encode_s": dt,
                          "captions_per_s": len(lines) / dt, "ftfy": HAVE_FTFY}))


if __name__ == "__main__":
    main()
