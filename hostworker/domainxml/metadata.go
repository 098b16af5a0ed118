package domainxml

import (
	"encoding/xml"
	"fmt"
	"maps"
	"slices"

	"libvirt.org/go/libvirtxml"
)

// MetadataNamespace is the XML namespace of ZCloud's element under the
// domain's <metadata>. libvirt keeps one element per namespace, and other
// tools' elements never collide with it.
const MetadataNamespace = "https://zcloud.dev/xmlns/domain/1"

// ownerXML is ZCloud's metadata element:
// <vm xmlns="https://zcloud.dev/xmlns/domain/1" uuid="…"><entry key="…">…</entry></vm>.
type ownerXML struct {
	XMLName xml.Name     `xml:"https://zcloud.dev/xmlns/domain/1 vm"`
	VMUUID  string       `xml:"uuid,attr"`
	Entries []ownerEntry `xml:"entry"`
}

type ownerEntry struct {
	Key   string `xml:"key,attr"`
	Value string `xml:",chardata"`
}

// metadataXML reads the children of <metadata> that ZCloud cares about.
type metadataXML struct {
	Owner *ownerXML `xml:"https://zcloud.dev/xmlns/domain/1 vm"`
}

// Owner is what ZCloud wrote into a domain's metadata.
type Owner struct {
	VMUUID  string
	Entries map[string]string
}

// ParseOwner reads ZCloud's metadata from a domain, so that the agent's
// reconcile can tell its own domains (ok) from foreign ones. It accepts the
// element with or without a namespace prefix, as libvirt may rewrite it.
func ParseOwner(d *libvirtxml.Domain) (owner Owner, ok bool, err error) {
	if d == nil || d.Metadata == nil {
		return Owner{}, false, nil
	}
	var m metadataXML
	if err := xml.Unmarshal([]byte("<metadata>"+d.Metadata.XML+"</metadata>"), &m); err != nil {
		return Owner{}, false, fmt.Errorf("parse domain metadata: %w", err)
	}
	if m.Owner == nil {
		return Owner{}, false, nil
	}
	owner = Owner{VMUUID: m.Owner.VMUUID, Entries: make(map[string]string, len(m.Owner.Entries))}
	for _, e := range m.Owner.Entries {
		owner.Entries[e.Key] = e.Value
	}
	return owner, true, nil
}

// metadata builds the <metadata> element; keys are sorted so that the
// output does not depend on map order.
func metadata(vmUUID string, entries map[string]string) (*libvirtxml.DomainMetadata, error) {
	o := ownerXML{VMUUID: vmUUID}
	for _, k := range slices.Sorted(maps.Keys(entries)) {
		o.Entries = append(o.Entries, ownerEntry{Key: k, Value: entries[k]})
	}
	// Indent to sit under <metadata> in Domain.Marshal's two-space layout.
	b, err := xml.MarshalIndent(o, "    ", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal metadata: %w", err)
	}
	return &libvirtxml.DomainMetadata{XML: "\n" + string(b) + "\n  "}, nil
}
