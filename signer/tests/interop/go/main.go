// Command interop checks SiteLedger's C2SP signed-note checkpoints and
// RFC 9162 (RFC 6962 hashing) inclusion and consistency proofs with the
// reference Go implementation, golang.org/x/mod/sumdb/note and
// golang.org/x/mod/sumdb/tlog, as shipped by Debian's
// golang-golang-x-mod-dev package under /usr/share/gocode.
//
// Build offline, in GOPATH mode (no go.mod, no module proxy, no network),
// from the repository root:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= GOPROXY=off \
//	  GOCACHE="${TMPDIR:-/tmp}/siteledger-go-cache" \
//	  go build -o /tmp/siteledger-interop signer/tests/interop/go/main.go
//
// or run directly with `go run signer/tests/interop/go/main.go INPUT.json`
// under the same environment. See signer/tests/interop/README.md.
//
// Usage: interop INPUT.json
//
// INPUT.json:
//
//	{
//	  "vkey": "<note verifier key: name+hash8hex+base64(0x01||ed25519 pubkey)>",
//	  "checkpoint": "<signed note: checkpoint body, blank line, signature lines>",
//	  "leaves": ["<base64 leaf bytes of index 0>", ...],          (optional)
//	  "inclusion": [{"index": 3, "hashes": ["<base64 32 bytes>", ...],
//	                 "leaf": "<base64, optional, overrides leaves[index]>"}],
//	  "consistency": [{"old_size": 5, "old_root": "<base64>", "hashes": [...]}],
//	  "witnesses": ["<witness vkey: name+hash8hex+base64(0x04||ed25519 pubkey)>"]   (optional)
//	}
//
// Witness cosignatures (C2SP tlog-cosignature/v1, key type 0x04) are not
// verified by sumdb/note, which knows only type 0x01 keys and lists such lines
// in UnverifiedSigs; each named witness's line is checked here with
// crypto/ed25519 over "cosignature/v1\ntime <t>\n" + the note text.
//
// Exit status: 0 all checks passed (last line "OK <n> checks"); 1 a check
// failed (a line "FAIL: <what>"); 2 the input itself is unusable (usage,
// unreadable file, invalid JSON, unknown field, bad base64, hash not 32
// bytes, inclusion index without leaf bytes) (a line "INPUT: <what>").
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type inclusionEntry struct {
	Index  *int64   `json:"index"`
	Hashes []string `json:"hashes"`
	Leaf   *string  `json:"leaf"`
}

type consistencyEntry struct {
	OldSize *int64   `json:"old_size"`
	OldRoot *string  `json:"old_root"`
	Hashes  []string `json:"hashes"`
}

type input struct {
	Vkey        *string            `json:"vkey"`
	Checkpoint  *string            `json:"checkpoint"`
	Leaves      []string           `json:"leaves"`
	Inclusion   []inclusionEntry   `json:"inclusion"`
	Consistency []consistencyEntry `json:"consistency"`
	Witnesses   []string           `json:"witnesses"`
}

// checkpoint is the parsed C2SP tlog-checkpoint note text.
type checkpoint struct {
	origin     string
	size       int64
	root       tlog.Hash
	extensions []string
}

func badInput(format string, args ...interface{}) {
	fmt.Printf("INPUT: "+format+"\n", args...)
	os.Exit(2)
}

func fail(format string, args ...interface{}) {
	fmt.Printf("FAIL: "+format+"\n", args...)
	os.Exit(1)
}

// b64 decodes strict standard padded base64 (RFC 4648 section 4).
func b64(s string) ([]byte, error) {
	return base64.StdEncoding.Strict().DecodeString(s)
}

func decodeHash(what, s string) tlog.Hash {
	raw, err := b64(s)
	if err != nil {
		badInput("%s: invalid base64: %v", what, err)
	}
	if len(raw) != tlog.HashSize {
		badInput("%s: hash is %d bytes, want %d", what, len(raw), tlog.HashSize)
	}
	var h tlog.Hash
	copy(h[:], raw)
	return h
}

func decodeHashes(what string, list []string) []tlog.Hash {
	out := make([]tlog.Hash, len(list))
	for i, s := range list {
		out[i] = decodeHash(fmt.Sprintf("%s hashes[%d]", what, i), s)
	}
	return out
}

// parseCheckpoint parses note text per C2SP tlog-checkpoint: at least three
// non-empty lines (origin, tree size, root hash), then optional non-empty
// extension lines, every line terminated by a newline.
func parseCheckpoint(text string) (checkpoint, error) {
	var c checkpoint
	if !strings.HasSuffix(text, "\n") {
		return c, fmt.Errorf("note text does not end with a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return c, fmt.Errorf("note text has %d lines, want at least 3 (origin, size, root)", len(lines))
	}
	for i, l := range lines {
		if l == "" {
			return c, fmt.Errorf("line %d is empty", i+1)
		}
	}
	c.origin = lines[0]
	sizeText := lines[1]
	for _, r := range sizeText {
		if r < '0' || r > '9' {
			return c, fmt.Errorf("tree size %q is not ASCII decimal", sizeText)
		}
	}
	if len(sizeText) > 1 && sizeText[0] == '0' {
		return c, fmt.Errorf("tree size %q has a leading zero", sizeText)
	}
	size, err := strconv.ParseInt(sizeText, 10, 64)
	if err != nil {
		return c, fmt.Errorf("tree size %q: %v", sizeText, err)
	}
	c.size = size
	raw, err := b64(lines[2])
	if err != nil {
		return c, fmt.Errorf("root hash %q is not standard base64: %v", lines[2], err)
	}
	if len(raw) != tlog.HashSize {
		return c, fmt.Errorf("root hash is %d bytes, want %d", len(raw), tlog.HashSize)
	}
	copy(c.root[:], raw)
	c.extensions = lines[3:]
	return c, nil
}

// memReader is an in-memory tlog.HashReader over stored hashes.
type memReader []tlog.Hash

func (m memReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("stored hash %d out of range", x)
		}
		out[i] = m[x]
	}
	return out, nil
}

// treeHashOfLeaves computes the RFC 6962 root of the first n leaves with tlog.
func treeHashOfLeaves(leaves [][]byte, n int64) (tlog.Hash, error) {
	var stored memReader
	for i := int64(0); i < n; i++ {
		hs, err := tlog.StoredHashes(i, leaves[i], stored)
		if err != nil {
			return tlog.Hash{}, err
		}
		stored = append(stored, hs...)
	}
	return tlog.TreeHash(n, stored)
}

func main() {
	if len(os.Args) != 2 || os.Args[1] == "" || strings.HasPrefix(os.Args[1], "-") {
		fmt.Println("usage: interop INPUT.json")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		badInput("cannot read %s: %v", os.Args[1], err)
	}
	var in input
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		badInput("invalid JSON: %v", err)
	}
	if dec.More() {
		badInput("invalid JSON: trailing data after the top-level object")
	}
	if in.Vkey == nil || *in.Vkey == "" {
		badInput(`missing "vkey"`)
	}
	if in.Checkpoint == nil || *in.Checkpoint == "" {
		badInput(`missing "checkpoint"`)
	}

	// Decode everything supplied by the harness before checking anything, so
	// that exit status 2 never follows a partial run of checks.
	leaves := make([][]byte, len(in.Leaves))
	for i, s := range in.Leaves {
		if leaves[i], err = b64(s); err != nil {
			badInput("leaves[%d]: invalid base64: %v", i, err)
		}
	}
	type incl struct {
		index int64
		leaf  []byte
		proof tlog.RecordProof
	}
	var incls []incl
	for i, e := range in.Inclusion {
		what := fmt.Sprintf("inclusion[%d]", i)
		if e.Index == nil || *e.Index < 0 {
			badInput("%s: missing or negative \"index\"", what)
		}
		if e.Hashes == nil {
			badInput("%s: missing \"hashes\" (use [] for an empty proof)", what)
		}
		var leaf []byte
		switch {
		case e.Leaf != nil:
			if leaf, err = b64(*e.Leaf); err != nil {
				badInput("%s: leaf: invalid base64: %v", what, err)
			}
		case *e.Index < int64(len(leaves)):
			leaf = leaves[*e.Index]
		default:
			badInput("%s: no leaf bytes for index %d (%d leaves given, no \"leaf\")", what, *e.Index, len(leaves))
		}
		incls = append(incls, incl{*e.Index, leaf, decodeHashes(what, e.Hashes)})
	}
	type cons struct {
		oldSize int64
		oldRoot tlog.Hash
		proof   tlog.TreeProof
	}
	var conss []cons
	for i, e := range in.Consistency {
		what := fmt.Sprintf("consistency[%d]", i)
		if e.OldSize == nil || *e.OldSize < 0 {
			badInput("%s: missing or negative \"old_size\"", what)
		}
		if e.OldRoot == nil {
			badInput("%s: missing \"old_root\"", what)
		}
		if e.Hashes == nil {
			badInput("%s: missing \"hashes\" (use [] for an empty proof)", what)
		}
		conss = append(conss, cons{*e.OldSize, decodeHash(what+" old_root", *e.OldRoot), decodeHashes(what, e.Hashes)})
	}

	checks := 0
	pass := func(format string, args ...interface{}) {
		checks++
		fmt.Printf("ok "+format+"\n", args...)
	}

	// 1. The verifier key (C2SP signed-note verifier key encoding).
	v, err := note.NewVerifier(*in.Vkey)
	if err != nil {
		fail("verifier key %q rejected by note.NewVerifier: %v", *in.Vkey, err)
	}
	pass("verifier key: name=%s key_id=%08x", v.Name(), v.KeyHash())

	// 2. The signed note.
	n, err := note.Open([]byte(*in.Checkpoint), note.VerifierList(v))
	if err != nil {
		fail("note.Open: %v", err)
	}
	pass("signature: %d verified by %s (%d other signature lines ignored)", len(n.Sigs), v.Name(), len(n.UnverifiedSigs))

	// 3. The checkpoint body.
	cp, err := parseCheckpoint(n.Text)
	if err != nil {
		fail("checkpoint body: %v", err)
	}
	pass("checkpoint: origin=%q size=%d root=%s extensions=%d", cp.origin, cp.size, cp.root, len(cp.extensions))
	if cp.origin != v.Name() {
		// C2SP: the key name SHOULD match the origin; not a failure.
		fmt.Printf("warning: origin %q differs from key name %q\n", cp.origin, v.Name())
	}

	// 4. The root against the leaves, when the caller gave them all.
	if cp.size == 0 {
		empty := tlog.Hash(sha256.Sum256(nil))
		if cp.root != empty {
			fail("empty tree: root %s, want SHA-256(\"\") = %s", cp.root, empty)
		}
		pass("empty tree root is SHA-256(\"\")")
	} else if int64(len(leaves)) >= cp.size {
		root, err := treeHashOfLeaves(leaves, cp.size)
		if err != nil {
			fail("computing tree hash of %d leaves: %v", cp.size, err)
		}
		if root != cp.root {
			fail("root from leaves[0..%d) is %s, checkpoint says %s", cp.size, root, cp.root)
		}
		pass("root recomputed from leaves[0..%d)", cp.size)
	}

	// 5. Inclusion proofs against the checkpoint.
	for i, e := range incls {
		if e.index >= cp.size {
			fail("inclusion[%d]: index %d is not below tree size %d", i, e.index, cp.size)
		}
		if err := tlog.CheckRecord(e.proof, cp.size, cp.root, e.index, tlog.RecordHash(e.leaf)); err != nil {
			fail("inclusion[%d]: index %d in tree %d (%d hashes): %v", i, e.index, cp.size, len(e.proof), err)
		}
		pass("inclusion[%d]: index %d in tree %d (%d hashes)", i, e.index, cp.size, len(e.proof))
	}

	// 6. Consistency proofs from an older tree to the checkpoint.
	for i, e := range conss {
		if e.oldSize < 1 || e.oldSize > cp.size {
			fail("consistency[%d]: old size %d not in [1, %d]", i, e.oldSize, cp.size)
		}
		if err := tlog.CheckTree(e.proof, cp.size, cp.root, e.oldSize, e.oldRoot); err != nil {
			fail("consistency[%d]: %d -> %d (%d hashes): %v", i, e.oldSize, cp.size, len(e.proof), err)
		}
		pass("consistency[%d]: %d -> %d (%d hashes)", i, e.oldSize, cp.size, len(e.proof))
	}

	// 7. Witness cosignatures (tlog-cosignature/v1), each named witness exactly once.
	for i, w := range in.Witnesses {
		what := fmt.Sprintf("witnesses[%d]", i)
		parts := strings.SplitN(w, "+", 3)
		if len(parts) != 3 {
			badInput("%s: not name+hash+key", what)
		}
		name := parts[0]
		raw, err := b64(parts[2])
		if err != nil || len(raw) != 33 || raw[0] != 0x04 {
			badInput("%s: key is not base64 of 0x04 || 32-byte Ed25519 key", what)
		}
		pub := ed25519.PublicKey(raw[1:])
		idInput := append(append([]byte(name), '\n', 0x04), pub...)
		sum := sha256.Sum256(idInput)
		id := binary.BigEndian.Uint32(sum[:4])
		if fmt.Sprintf("%08x", id) != parts[1] {
			fail("%s: key id %s does not match SHA-256(name || \\n || 0x04 || key)[:4] = %08x", what, parts[1], id)
		}
		found := 0
		for _, sig := range n.UnverifiedSigs {
			if sig.Name != name || sig.Hash != id {
				continue
			}
			blob, err := b64(sig.Base64)
			if err != nil || len(blob) != 4+8+ed25519.SignatureSize {
				fail("%s: cosignature line is not key id || timestamp || signature", what)
			}
			t := binary.BigEndian.Uint64(blob[4:12])
			msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s", t, n.Text)
			if !ed25519.Verify(pub, []byte(msg), blob[12:]) {
				fail("%s: cosignature by %s at time %d does not verify", what, name, t)
			}
			found++
		}
		if found != 1 {
			fail("%s: %d cosignature lines by %s, want 1", what, found, name)
		}
		pass("%s: cosignature by %s verified with crypto/ed25519", what, name)
	}

	fmt.Printf("OK %d checks\n", checks)
}
