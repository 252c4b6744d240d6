// Preloaded (`node --import`) into every node process the demo starts. The demo starts
// its nodes in their own process group, so that it alone decides when they stop; should
// the demo die without stopping them (kill -9), the IPC channel to it closes and the
// node shuts down as on Ctrl-C instead of lingering. Plain JS: it runs before tsx loads.
process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
// Listening for 'disconnect' keeps the channel referenced; it must not keep the node alive.
process.channel?.unref();
