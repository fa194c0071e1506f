// Package filestamp tells whether a file a long-running server loads
// (configuration, policies, certificates, keys, trust bundles) changed
// since it was read, without reading it again.
//
// A modification time and a size alone miss a file replaced by another
// of the same size and modification time: `cp -p`, `tar -x`, `touch -r`,
// two variants copied by `kubectl cp`, or a prepared file renamed over
// the old one. A stricter policies file swapped in that way was never
// loaded, and the weaker one kept being enforced. A Stamp adds the
// device and inode (a rename of another file over the old one changes
// them) and the inode change time, which every write, rename, chmod and
// utimes sets to now and which no user can set back (a rewrite in place
// followed by a reset of the modification time changes it). Where the
// system has no such fields (Windows), a Stamp is the modification time
// and size only.
package filestamp
