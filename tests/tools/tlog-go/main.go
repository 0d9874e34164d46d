// Command tlog-go checks a running hwledger service's C2SP tlog-tiles, checkpoints, witness
// cosignatures and Merkle proofs (spec §5, §5a) with Go's golang.org/x/mod/sumdb/tlog and
// sumdb/note and Go's standard library: code that hwledger's authors did not write, so that an
// agreement is evidence of interoperability.
//
// README: tests/interop_go.rs builds and runs it against a live ledger. By hand, offline, with
// Debian's golang-go and golang-golang-x-mod-dev (go.mod points golang.org/x/mod at
// /usr/share/gocode/src/golang.org/x/mod):
//
//	cd tests/tools/tlog-go && GOPROXY=off go build -o /tmp/tlog-go .
//	/tmp/tlog-go -url http://127.0.0.1:8080 -key '<origin>+<hex key ID>+<base64(0x01||key)>' [-size N] \
//	    [-witness <name>=<hex Ed25519 key> ...] [-quorum K]
//
// It verifies the latest checkpoint (/v1/tlog/checkpoint) with note.Open; rebuilds the root
// from the hash tiles through tlog.TileHashReader and tlog.TreeHash; checks entry bundles
// against the level-0 tiles with tlog.RecordHash; proves and checks inclusion
// (tlog.ProveRecord, tlog.CheckRecord) and consistency (tlog.ProveTree, tlog.CheckTree) and
// checks hwledger's own JSON proofs with the same functions, requiring them to equal Go's. It
// prints one summary line starting with "OK size=<n>" and exits 1 at the first mismatch.
//
// Witnesses: with -witness (repeatable) and -quorum K, the cosignature lines of the given
// witnesses on /v1/tlog/checkpoint are verified as C2SP tlog-cosignature `cosignature/v1`
// (Ed25519) with crypto/ed25519, crypto/sha256, encoding/base64 and encoding/binary only,
// written from the C2SP text, not from hwledger's code: a line `— <name> base64(key ID(4) ‖
// timestamp(8, big-endian) ‖ signature(64))`, key ID = SHA-256(name ‖ "\n" ‖ 0x04 ‖ public
// key)[:4], the signature over "cosignature/v1\ntime <t>\n" followed by the checkpoint text.
// A line under a given name whose key ID is not the given key's is another key's and is
// skipped; a line whose key ID matches must carry a non-zero timestamp and a valid signature,
// or the tool fails. At least K distinct given witnesses must have cosigned, and the OK line
// names them. /v1/tlog/checkpoints/<size> of the head's size must be the same bytes.
//
// x/mod's note.Open and cosignatures: note.Open (v0.7.0, as Debian ships it) accepts a note
// with cosignature lines. A line whose (name, first 4 bytes) no given verifier knows is not an
// error: it lands in Note.UnverifiedSigs, undecoded past its 4-byte hash, so the ledger's line
// is verified with note.Open as before. note cannot check the cosignatures itself: its
// NewVerifier knows the algorithm byte 0x01 only (0x04 is errVerifierAlg), and a cosignature
// signs another message than the note text. note.Open does refuse the whole note when any
// signature line, a witness's included, fails to parse (a name with a space or '+', bad
// base64, under 5 bytes) or when there are over 100 lines; and it drops repeated identical
// unknown lines. So the cosignature lines are taken from the raw bytes here, split off after
// the last blank line as note.Open does, not from UnverifiedSigs.
//
// Worked example: with -cosign-vector, no service is read. Given -seed (the witness's 32-byte
// Ed25519 seed, hex), -name, -time and -text (the checkpoint text, three lines each ending in
// "\n"), and optionally -ledger-seed and -origin, it prints as JSON the witness's key ID and
// cosignature line computed with ed25519.NewKeyFromSeed and, with a ledger seed, the note
// signed by note.Sign, so that tests/interop_go.rs can compare them byte for byte with
// hwledger's.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
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
	"unicode"
	"unicode/utf8"

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
	raw  []byte
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
	return checkpoint{size: size, root: root, text: n.Text, raw: msg}
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

// A witness given on the command line: -witness <name>=<hex Ed25519 public key>.
type witness struct {
	name  string
	key   ed25519.PublicKey
	keyID [4]byte
}

// cosignatureKeyID is C2SP tlog-cosignature's key ID: the first 4 bytes of
// SHA-256(name ‖ "\n" ‖ 0x04 ‖ public key), 0x04 being the `cosignature/v1` signature type.
func cosignatureKeyID(name string, key ed25519.PublicKey) (id [4]byte) {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', 0x04})
	h.Write(key)
	copy(id[:], h.Sum(nil))
	return id
}

// cosignedMessage is what a `cosignature/v1` signature signs: "cosignature/v1", "time <t>"
// (decimal, no leading zeros) and the checkpoint text, every line ending in "\n".
func cosignedMessage(text string, timestamp uint64) []byte {
	return []byte("cosignature/v1\ntime " + strconv.FormatUint(timestamp, 10) + "\n" + text)
}

// validName is a key name of signed notes: non-empty UTF-8 without spaces or '+'.
func validName(name string) bool {
	return name != "" && utf8.ValidString(name) && !strings.Contains(name, "+") &&
		strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || unicode.IsSpace(r) }) < 0
}

type witnessFlags []witness

func (w *witnessFlags) String() string {
	names := make([]string, len(*w))
	for i, x := range *w {
		names[i] = x.name
	}
	return strings.Join(names, ",")
}

func (w *witnessFlags) Set(s string) error {
	name, keyHex, ok := strings.Cut(s, "=")
	if !ok || !validName(name) {
		return fmt.Errorf("want <name>=<hex Ed25519 key> with a name without spaces or '+', got %q", s)
	}
	key, err := hex.DecodeString(keyHex)
	if err != nil || len(key) != ed25519.PublicKeySize {
		return fmt.Errorf("%s: the key is not 32 bytes of hex: %q", name, keyHex)
	}
	for _, x := range *w {
		if x.name == name || bytes.Equal(x.key, key) {
			return fmt.Errorf("%s: a witness name or key given twice", name)
		}
	}
	*w = append(*w, witness{name: name, key: key, keyID: cosignatureKeyID(name, key)})
	return nil
}

// signatureLines splits a signed note as note.Open does: the text up to and including the
// last "\n" before the last blank line, then lines "— <name> <base64>" each ending in "\n".
func signatureLines(path string, msg []byte) (text string, names, sigs []string) {
	split := bytes.LastIndex(msg, []byte("\n\n"))
	if split < 0 || !bytes.HasSuffix(msg, []byte("\n")) {
		fail("%s: not a signed note", path)
	}
	text = string(msg[:split+1])
	for _, line := range strings.Split(strings.TrimSuffix(string(msg[split+2:]), "\n"), "\n") {
		rest := strings.TrimPrefix(line, "— ")
		name, b64, ok := strings.Cut(rest, " ")
		if rest == line || !ok || !validName(name) || b64 == "" {
			fail("%s: malformed signature line %q", path, line)
		}
		names = append(names, name)
		sigs = append(sigs, b64)
	}
	return text, names, sigs
}

// verifyCosignature checks one cosignature line's base64 against witness w over text: nil
// and ok when it verifies; ok false (and no error) when its key ID is another key's; an error
// when the key ID is w's but the rest is wrong. It returns the timestamp.
func verifyCosignature(w witness, text, b64 string) (timestamp uint64, ok bool, err error) {
	blob, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return 0, false, fmt.Errorf("cosignature of %s: bad base64: %v", w.name, err)
	}
	if len(blob) < 4 || !bytes.Equal(blob[:4], w.keyID[:]) {
		return 0, false, nil
	}
	if len(blob) != 4+8+ed25519.SignatureSize {
		return 0, false, fmt.Errorf("cosignature of %s: %d bytes, want 76 (key ID, timestamp, signature)", w.name, len(blob))
	}
	timestamp = binary.BigEndian.Uint64(blob[4:12])
	if timestamp == 0 {
		return 0, false, fmt.Errorf("cosignature of %s: timestamp 0", w.name)
	}
	if !ed25519.Verify(w.key, cosignedMessage(text, timestamp), blob[12:]) {
		return timestamp, false, fmt.Errorf("cosignature of %s at time %d does not verify", w.name, timestamp)
	}
	return timestamp, true, nil
}

// cosigners verifies the cosignature lines of the given witnesses on the checkpoint cp
// (fetched from path) and requires at least quorum distinct ones; it returns their names,
// each with its timestamp, in the order given.
func cosigners(path string, cp checkpoint, witnesses []witness, quorum int) []string {
	text, names, sigs := signatureLines(path, cp.raw)
	if text != cp.text {
		fail("%s: the text before the signatures %q differs from note.Open's %q", path, text, cp.text)
	}
	stamps := map[string]uint64{}
	var skipped []string
	for i, name := range names {
		for _, w := range witnesses {
			if w.name != name {
				continue
			}
			t, ok, err := verifyCosignature(w, text, sigs[i])
			if err != nil {
				fail("%s: %v", path, err)
			}
			if !ok {
				skipped = append(skipped, name)
				continue
			}
			if _, seen := stamps[name]; !seen {
				stamps[name] = t
			}
		}
	}
	var found []string
	for _, w := range witnesses {
		if t, ok := stamps[w.name]; ok {
			found = append(found, fmt.Sprintf("%s@%d", w.name, t))
		}
	}
	if len(found) < quorum {
		fail("%s: quorum not met: %d of the %d given witnesses cosigned the checkpoint of size %d (%v), -quorum %d; "+
			"lines under a given name but by another key: %v", path, len(found), len(witnesses), cp.size, found, quorum, skipped)
	}
	return found
}

// cosignVector prints the worked example of a cosignature (see the header) as JSON.
func cosignVector(seedHex, name string, timestamp uint64, text, ledgerSeedHex, origin string) {
	seed, err := hex.DecodeString(seedHex)
	if err != nil || len(seed) != ed25519.SeedSize || !validName(name) || timestamp == 0 {
		fail("-cosign-vector wants -seed (32 bytes of hex), -name and a non-zero -time")
	}
	if lines := strings.Split(text, "\n"); len(lines) != 4 || lines[3] != "" {
		fail("-text must be three lines, each ending in \\n: %q", text)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	id := cosignatureKeyID(name, pub)
	blob := make([]byte, 0, 76)
	blob = append(blob, id[:]...)
	var stamp [8]byte
	binary.BigEndian.PutUint64(stamp[:], timestamp)
	blob = append(blob, stamp[:]...)
	blob = append(blob, ed25519.Sign(priv, cosignedMessage(text, timestamp))...)
	line := "— " + name + " " + base64.StdEncoding.EncodeToString(blob)
	w := witness{name: name, key: pub, keyID: id}
	if _, ok, err := verifyCosignature(w, text, line[len("— "+name+" "):]); !ok || err != nil {
		fail("the vector's own cosignature does not verify: %v", err)
	}
	out := map[string]string{
		"witness_key":    hex.EncodeToString(pub),
		"witness_key_id": hex.EncodeToString(id[:]),
		"message":        string(cosignedMessage(text, timestamp)),
		"cosignature":    line,
	}
	if ledgerSeedHex != "" {
		lseed, err := hex.DecodeString(ledgerSeedHex)
		if err != nil || len(lseed) != ed25519.SeedSize || !validName(origin) {
			fail("-ledger-seed wants 32 bytes of hex and -origin a key name")
		}
		lpub := ed25519.NewKeyFromSeed(lseed).Public().(ed25519.PublicKey)
		vkey, err := note.NewEd25519VerifierKey(origin, lpub)
		if err != nil {
			fail("note.NewEd25519VerifierKey: %v", err)
		}
		// note's signer key: PRIVATE+KEY+<name>+<hex key hash>+base64(0x01 ‖ seed), the key hash
		// being the verifier key's.
		parts := strings.Split(vkey, "+")
		signer, err := note.NewSigner("PRIVATE+KEY+" + origin + "+" + parts[1] + "+" +
			base64.StdEncoding.EncodeToString(append([]byte{0x01}, lseed...)))
		if err != nil {
			fail("note.NewSigner: %v", err)
		}
		signed, err := note.Sign(&note.Note{Text: text}, signer)
		if err != nil {
			fail("note.Sign: %v", err)
		}
		verifier, err := note.NewVerifier(vkey)
		if err != nil {
			fail("note.NewVerifier: %v", err)
		}
		cosigned := append(append([]byte{}, signed...), line+"\n"...)
		n, err := note.Open(cosigned, note.VerifierList(verifier))
		if err != nil || len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 1 {
			fail("note.Open of the cosigned vector: %v", err)
		}
		out["ledger_vkey"] = vkey
		out["ledger_key_id"] = parts[1]
		out["ledger_note"] = string(signed)
		out["cosigned_note"] = string(cosigned)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fail("%v", err)
	}
}

func main() {
	base := flag.String("url", "", "base URL of the hwledger service, e.g. http://127.0.0.1:8080")
	vkey := flag.String("key", "", "the ledger's verifier key string <origin>+<hex key ID>+<base64(0x01||public key)>")
	want := flag.Int64("size", -1, "fail unless the latest checkpoint is of this size")
	var witnesses witnessFlags
	flag.Var(&witnesses, "witness", "a witness `name=hexkey` (Ed25519) whose cosignature lines are checked; repeatable")
	quorum := flag.Int("quorum", 0, "fail unless at least this many distinct given witnesses cosigned /v1/tlog/checkpoint")
	vector := flag.Bool("cosign-vector", false, "print the worked example of a cosignature as JSON, read no service")
	seed := flag.String("seed", "", "-cosign-vector: the witness's Ed25519 seed, 32 bytes of hex")
	name := flag.String("name", "", "-cosign-vector: the witness's name")
	timestamp := flag.Uint64("time", 0, "-cosign-vector: the cosignature's timestamp, POSIX seconds")
	text := flag.String("text", "", "-cosign-vector: the checkpoint text, three lines each ending in \\n")
	ledgerSeed := flag.String("ledger-seed", "", "-cosign-vector: the ledger's Ed25519 seed, 32 bytes of hex (optional)")
	origin := flag.String("origin", "", "-cosign-vector: the ledger's origin, with -ledger-seed")
	flag.Parse()
	if *vector {
		if flag.NArg() != 0 {
			flag.Usage()
			os.Exit(2)
		}
		cosignVector(*seed, *name, *timestamp, *text, *ledgerSeed, *origin)
		return
	}
	if *base == "" || *vkey == "" || flag.NArg() != 0 || *quorum < 0 || *quorum > len(witnesses) {
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
	cosigned := cosigners("/v1/tlog/checkpoint", head, witnesses, *quorum)
	n := head.size
	if *want >= 0 && n != *want {
		fail("the latest checkpoint is of size %d, want %d", n, *want)
	}
	if n == 0 {
		fail("the tree is empty: nothing to check")
	}
	for _, p := range []string{"/v1/checkpoint", fmt.Sprintf("/v1/checkpoints/%d", n)} {
		if cp := c.checkpoint(p); cp.text != head.text {
			fail("%s says %q, /v1/tlog/checkpoint %q", p, cp.text, head.text)
		}
	}
	// The tiled checkpoint of the head's size: the same bytes, cosignature lines included.
	tiledPath := fmt.Sprintf("/v1/tlog/checkpoints/%d", n)
	if tiled := c.checkpoint(tiledPath); !bytes.Equal(tiled.raw, head.raw) {
		fail("%s differs from /v1/tlog/checkpoint:\n%s\n%s", tiledPath, tiled.raw, head.raw)
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

	fmt.Printf("OK size=%d root=%v cosigned by %v (quorum %d of %d given): tree hash from %d tiles; %d bundle entries match their leaves and "+
		"prove in the tree; hwledger's inclusion proofs at %v and consistency proofs from %v equal Go's "+
		"and verify; %d requests\n",
		n, head.root, cosigned, *quorum, len(witnesses), len(c.tiles), len(goProofs), indexes, froms, c.fetches)
}

func sliceHash(b []byte) (h tlog.Hash) {
	copy(h[:], b)
	return h
}
