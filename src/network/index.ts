export { startNetwork, type Network, type NetworkInit } from './node.js'
export { DISPATCH_PROTOCOL } from './dispatch.js'
export { NODE_PROTOCOL } from './adverts.js'
