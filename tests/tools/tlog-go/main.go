// Command tlog-go checks a running hwledger service's C2SP tlog-tiles, checkpoints and Merkle
// proofs (spec §5, §5a) with Go's golang.org/x/mod/sumdb/tlog and sumdb/note: code that
// hwledger's authors did not write, so that an agreement is evidence of interoperability.
//
// README: tests/interop_go.rs builds and runs it against a live ledger. By hand, offline, with
// Debian's golang-go and golang-golang-x-mod-dev (go.mod points golang.org/x/mod at
// /usr/share/gocode/src/golang.org/x/mod):
//
//	cd tests/tools/tlog-go && GOPROXY=off go build -o /tmp/tlog-go .
//	/tmp/tlog-go -url http://127.0.0.1:8080 -key '<origin>+<hex key ID>+<base64(0x01||key)>' [-size N]
//
// It verifies the latest checkpoint (/v1/tlog/checkpoint) with note.Open; rebuilds the root
// from the hash tiles through tlog.TileHashReader and tlog.TreeHash; checks entry bundles
// against the level-0 tiles with tlog.RecordHash; proves and checks inclusion
// (tlog.ProveRecord, tlog.CheckRecord) and consistency (tlog.ProveTree, tlog.CheckTree) and
// checks hwledger's own JSON proofs with the same functions, requiring them to equal Go's. It
// prints one summary line starting with "OK size=<n>" and exits 1 at the first mismatch.
package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// tileHeight is C2SP's fixed tile height: 256 hashes per full tile.
const tileHeight = 8

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "tlog-go: FAIL: "+format+"\n", args...)
	os.Exit(1)
}

type client struct {
	base     string
	http     *http.Client
	verifier note.Verifier
	fetches  int
	tiles    map[string][]byte
}

// get fetches base+path and requires 200.
func (c *client) get(path string) []byte {
	c.fetches++
	resp, err := c.http.Get(c.base + path)
	if err != nil {
		fail("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		fail("GET %s: reading the body: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		fail("GET %s: %s: %s", path, resp.Status, body)
	}
	return body
}

// A checkpoint whose signature by the ledger key note.Open verified.
type checkpoint struct {
	size int64
	root tlog.Hash
	text string
}

// checkpoint fetches a signed note, verifies it with note.Open against the ledger's verifier
// key and parses its body: origin (the key name), size (decimal, no leading zeros), base64 root.
// tlog.ParseTree does not fit: it wants the sumdb origin line "go.sum database tree".
func (c *client) checkpoint(path string) checkpoint {
	msg := c.get(path)
	n, err := note.Open(msg, note.VerifierList(c.verifier))
	if err != nil {
		fail("%s: note.Open: %v\n%s", path, err, msg)
	}
	if len(n.Sigs) == 0 || n.Sigs[0].Name != c.verifier.Name() || n.Sigs[0].Hash != c.verifier.KeyHash() {
		fail("%s: no verified signature by %s", path, c.verifier.Name())
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		fail("%s: the checkpoint body is not three lines: %q", path, n.Text)
	}
	if lines[0] != c.verifier.Name() {
		fail("%s: origin %q is not the key name %q", path, lines[0], c.verifier.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		fail("%s: bad tree size %q", path, lines[1])
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		fail("%s: bad root hash %q", path, lines[2])
	}
	var root tlog.Hash
	copy(root[:], raw)
	return checkpoint{size: size, root: root, text: n.Text}
}

// tileReader serves Go's sumdb tiles from hwledger's C2SP paths: Go writes tlog.Tile{H: 8, L,
// N, W}.Path() as "tile/8/<L>/<N>[.p/<W>]", C2SP has no height component, so "tile/8/" goes.
type tileReader struct{ c *client }

func (r tileReader) Height() int { return tileHeight }

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if t.H != tileHeight || t.L < 0 {
			return nil, fmt.Errorf("unexpected tile %+v", t)
		}
		goPath := t.Path()
		rest := strings.TrimPrefix(goPath, "tile/8/")
		if rest == goPath {
			return nil, fmt.Errorf("unexpected Go tile path %q", goPath)
		}
		path := "/v1/tlog/tile/" + rest
		if data, ok := r.c.tiles[path]; ok {
			out[i] = data
			continue
		}
		data := r.c.get(path)
		r.c.tiles[path] = data
		out[i] = data
	}
	return out, nil
}

func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// bundle fetches entry bundle n of a tree of size `size` (full, or partial at its end) and
// returns its entry hashes, parsed as C2SP length-prefixed entries of 32 bytes each.
func (c *client) bundle(n, size int64) [][]byte {
	width := int64(1) << tileHeight
	if rem := size - n<<tileHeight; rem < width {
		width = rem
	}
	// The same index spelling as hash tiles: Go's level-0 tile path minus "tile/8/0/".
	goPath := tlog.Tile{H: tileHeight, L: 0, N: n, W: int(width)}.Path()
	path := "/v1/tlog/tile/entries/" + strings.TrimPrefix(goPath, "tile/8/0/")
	data := c.get(path)
	var entries [][]byte
	for rest := data; len(rest) > 0; {
		if len(rest) < 2 {
			fail("%s: truncated length prefix", path)
		}
		l := int(rest[0])<<8 | int(rest[1])
		if l != tlog.HashSize || len(rest) < 2+l {
			fail("%s: entry %d: length %d (want 32) with %d bytes left", path, len(entries), l, len(rest)-2)
		}
		entries = append(entries, rest[2:2+l])
		rest = rest[2+l:]
	}
	if int64(len(entries)) != width {
		fail("%s: %d entries, want %d", path, len(entries), width)
	}
	return entries
}

func readHash(r tlog.HashReader, index int64) tlog.Hash {
	hs, err := r.ReadHashes([]int64{index})
	if err != nil || len(hs) != 1 {
		fail("reading stored hash %d from the tiles: %v", index, err)
	}
	return hs[0]
}

func parseHexes(what string, hexes []string) []tlog.Hash {
	out := make([]tlog.Hash, len(hexes))
	for i, s := range hexes {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != tlog.HashSize {
			fail("%s: hash %d is not 32 bytes of hex: %q", what, i, s)
		}
		copy(out[i][:], b)
	}
	return out
}

func parseHex(what, s string) tlog.Hash {
	return parseHexes(what, []string{s})[0]
}

func sameHashes(a, b []tlog.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (c *client) json(path string, v interface{}) {
	body := c.get(path)
	if err := json.Unmarshal(body, v); err != nil {
		fail("%s: %v: %s", path, err, body)
	}
}

// within returns the sorted distinct values of `candidates` in [lo, hi].
func within(lo, hi int64, candidates ...int64) []int64 {
	seen := map[int64]bool{}
	var out []int64
	for _, v := range candidates {
		if v >= lo && v <= hi && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func main() {
	base := flag.String("url", "", "base URL of the hwledger service, e.g. http://127.0.0.1:8080")
	vkey := flag.String("key", "", "the ledger's verifier key string <origin>+<hex key ID>+<base64(0x01||public key)>")
	want := flag.Int64("size", -1, "fail unless the latest checkpoint is of this size")
	flag.Parse()
	if *base == "" || *vkey == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	verifier, err := note.NewVerifier(*vkey)
	if err != nil {
		fail("note.NewVerifier(%q): %v", *vkey, err)
	}
	c := &client{
		base:     strings.TrimSuffix(*base, "/"),
		http:     &http.Client{Timeout: 30 * time.Second},
		verifier: verifier,
		tiles:    map[string][]byte{},
	}

	// The latest checkpoint, and the same size's from the other checkpoint endpoints.
	head := c.checkpoint("/v1/tlog/checkpoint")
	n := head.size
	if *want >= 0 && n != *want {
		fail("the latest checkpoint is of size %d, want %d", n, *want)
	}
	if n == 0 {
		fail("the tree is empty: nothing to check")
	}
	for _, p := range []string{"/v1/checkpoint", fmt.Sprintf("/v1/checkpoints/%d", n), fmt.Sprintf("/v1/tlog/checkpoints/%d", n)} {
		if cp := c.checkpoint(p); cp.text != head.text {
			fail("%s says %q, /v1/tlog/checkpoint %q", p, cp.text, head.text)
		}
	}

	// The root from the tiles, every tile authenticated by TileHashReader against it.
	hr := tlog.TileHashReader(tlog.Tree{N: n, Hash: head.root}, tileReader{c})
	th, err := tlog.TreeHash(n, hr)
	if err != nil {
		fail("tlog.TreeHash(%d) from the tiles: %v", n, err)
	}
	if th != head.root {
		fail("tlog.TreeHash(%d) from the tiles is %v, the checkpoint's root %v", n, th, head.root)
	}

	// Entries: every entry of each bundle touched must hash (RecordHash) to its leaf in the
	// level-0 tile, and Go's inclusion proof of it (ProveRecord over the tiles) must check
	// against the signed root. The proof is what authenticates the tile's leaves: x/mod's
	// TileHashReader (v0.7.0 up to at least 2026's master) checks full tiles against their
	// parents in a loop starting at len(stx), the number of subtree *hashes* of the tree size,
	// where it should start at the number of *tiles* those hashes need; when several of them
	// share a tile (size 700: 6 hashes in 2 tiles), the first full tiles go unchecked, and a
	// flipped bit in tile 0/001 comes back as a "proven" hash.
	indexes := within(0, n-1, 0, 1, 254, 255, 256, 257, 511, 512, n/2, n-2, n-1)
	bundles := map[int64][][]byte{}
	goProofs := map[int64]tlog.RecordProof{}
	for _, i := range indexes {
		b := i >> tileHeight
		if _, ok := bundles[b]; ok {
			continue
		}
		bundles[b] = c.bundle(b, n)
		for k, e := range bundles[b] {
			seq := b<<tileHeight + int64(k)
			leaf := readHash(hr, tlog.StoredHashIndex(0, seq))
			if got := tlog.RecordHash(e); got != leaf {
				fail("entry %d: RecordHash(entry hash %x) = %v, the level-0 tile holds %v", seq, e, got, leaf)
			}
			goProof, err := tlog.ProveRecord(n, seq, hr)
			if err != nil {
				fail("entry %d: tlog.ProveRecord(%d, %d): %v", seq, n, seq, err)
			}
			if err := tlog.CheckRecord(goProof, n, head.root, seq, leaf); err != nil {
				fail("entry %d: tlog.CheckRecord of Go's own proof in %d: %v", seq, n, err)
			}
			goProofs[seq] = goProof
		}
	}

	// hwledger's inclusion proofs of the chosen entries: checked by tlog.CheckRecord, and
	// equal to Go's (RFC 9162 proofs are unique).
	for _, i := range indexes {
		b := i >> tileHeight
		entry := bundles[b][i-b<<tileHeight]
		leaf := tlog.RecordHash(entry)
		goProof := goProofs[i]

		var p struct {
			Seq   int64    `json:"seq"`
			Size  int64    `json:"size"`
			Leaf  string   `json:"leaf"`
			Root  string   `json:"root"`
			Proof []string `json:"proof"`
		}
		path := fmt.Sprintf("/v1/proofs/inclusion?seq=%d&size=%d", i, n)
		c.json(path, &p)
		if p.Seq != i || p.Size != n {
			fail("%s: answers seq %d size %d", path, p.Seq, p.Size)
		}
		if parseHex(path+" leaf", p.Leaf) != sliceHash(entry) {
			fail("%s: leaf %s, the bundle holds %x", path, p.Leaf, entry)
		}
		if parseHex(path+" root", p.Root) != head.root {
			fail("%s: root %s, the checkpoint's %v", path, p.Root, head.root)
		}
		proof := tlog.RecordProof(parseHexes(path, p.Proof))
		if err := tlog.CheckRecord(proof, n, head.root, i, leaf); err != nil {
			fail("tlog.CheckRecord rejects hwledger's proof of %d in %d: %v", i, n, err)
		}
		if !sameHashes(proof, goProof) {
			fail("%s: hwledger's proof %v differs from Go's %v", path, proof, goProof)
		}
	}

	// Consistency from older sizes, each checkpoint signed and its root equal to the one the
	// tiles of the latest tree give for that size.
	froms := within(1, n, 1, 2, 255, 256, 257, 511, 512, 513, n/2, n-1, n)
	for _, m := range froms {
		old := c.checkpoint(fmt.Sprintf("/v1/checkpoints/%d", m))
		if old.size != m {
			fail("/v1/checkpoints/%d is of size %d", m, old.size)
		}
		if tiled := c.checkpoint(fmt.Sprintf("/v1/tlog/checkpoints/%d", m)); tiled.text != old.text {
			fail("/v1/tlog/checkpoints/%d says %q, /v1/checkpoints/%d %q", m, tiled.text, m, old.text)
		}
		if th, err := tlog.TreeHash(m, hr); err != nil || th != old.root {
			fail("tlog.TreeHash(%d) from the tiles of %d is %v (%v), its checkpoint's root %v", m, n, th, err, old.root)
		}
		goProof, err := tlog.ProveTree(n, m, hr)
		if err != nil {
			fail("tlog.ProveTree(%d, %d): %v", n, m, err)
		}
		if err := tlog.CheckTree(goProof, n, head.root, m, old.root); err != nil {
			fail("tlog.CheckTree of Go's own proof from %d to %d: %v", m, n, err)
		}
		var p struct {
			From     int64    `json:"from"`
			To       int64    `json:"to"`
			RootFrom string   `json:"root_from"`
			RootTo   string   `json:"root_to"`
			Proof    []string `json:"proof"`
		}
		path := fmt.Sprintf("/v1/proofs/consistency?from=%d&to=%d", m, n)
		c.json(path, &p)
		if p.From != m || p.To != n {
			fail("%s: answers from %d to %d", path, p.From, p.To)
		}
		if parseHex(path+" root_from", p.RootFrom) != old.root || parseHex(path+" root_to", p.RootTo) != head.root {
			fail("%s: roots %s, %s; the checkpoints' %v, %v", path, p.RootFrom, p.RootTo, old.root, head.root)
		}
		proof := tlog.TreeProof(parseHexes(path, p.Proof))
		if err := tlog.CheckTree(proof, n, head.root, m, old.root); err != nil {
			fail("tlog.CheckTree rejects hwledger's proof from %d to %d: %v", m, n, err)
		}
		if !sameHashes(proof, goProof) {
			fail("%s: hwledger's proof %v differs from Go's %v", path, proof, goProof)
		}
	}

	fmt.Printf("OK size=%d root=%v: tree hash from %d tiles; %d bundle entries match their leaves and "+
		"prove in the tree; hwledger's inclusion proofs at %v and consistency proofs from %v equal Go's "+
		"and verify; %d requests\n",
		n, head.root, len(c.tiles), len(goProofs), indexes, froms, c.fetches)
}

func sliceHash(b []byte) (h tlog.Hash) {
	copy(h[:], b)
	return h
}
