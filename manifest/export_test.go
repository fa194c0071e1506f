package manifest

// SetSlimDecode turns slim decoding on or off, for the differential test
// in package manifest_test, and returns the previous setting.
func SetSlimDecode(on bool) bool {
	prev := slimDecode
	slimDecode = on
	return prev
}

// SlimObjects reports, for each of s.Objects, whether it was decoded
// slim.
func SlimObjects(s *Set) []bool {
	out := make([]bool, len(s.objects))
	for i, o := range s.objects {
		out[i] = o.slim != nil
	}
	return out
}
