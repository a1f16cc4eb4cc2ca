/* Selection by TCP port: which connections are followed, which listeners are tracked. */
#ifndef HTTPTRACE_PORTS_H
#define HTTPTRACE_PORTS_H

/* Included by conn.h, after the HT_AF_* families it uses. */
#include "maps.h"

/* Whether the ports map selects connections and listeners; set by user space before load. */
const volatile bool port_select = false;

/* Whether port has one of the bits of side in the ports map. */
static __always_inline bool port_has(__u16 port, __u8 side)
{
	__u32 key = port;
	__u8 *v = bpf_map_lookup_elem(&ports, &key);

	return v && (*v & side);
}

/*
 * Whether a connection is followed: every one without port selection; with
 * it, a TCP one whose local port is a server port or whose remote port is
 * a client port.
 */
static __always_inline bool conn_selected(const struct conn *c)
{
	if (!port_select)
		return true;
	if (c->family != HT_AF_INET && c->family != HT_AF_INET6)
		return false;
	return port_has(c->local_port, HTTPTRACE_PORT_SERVER) || port_has(c->peer_port, HTTPTRACE_PORT_CLIENT);
}

#endif /* HTTPTRACE_PORTS_H */
