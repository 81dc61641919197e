package capture

// DecodeFrame exposes the frame decoder to the external tests, with the
// result as a word.
func DecodeFrame(link uint32, frame []byte, wireLen int, p *Packet) (res string, cut bool, why string) {
	r, cut, why := decodeFrame(link, frame, wireLen, p)
	return [...]string{"tcp", "nontcp", "fragment", "malformed", "badlink"}[r], cut, why
}
