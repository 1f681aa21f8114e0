/**
 * Node 20 lacks `Promise.withResolvers`, which libp2p 3 and Helia 7 call. Every entry point
 * imports this module first. It changes nothing on a runtime that has the method.
 */
interface Resolvers<T> { promise: Promise<T>, resolve: (value: T | PromiseLike<T>) => void, reject: (reason?: unknown) => void }

const PromiseWith = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> }
if (typeof PromiseWith.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T> (): Resolvers<T> {
      let resolve!: Resolvers<T>['resolve']
      let reject!: Resolvers<T>['reject']
      const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}

export {}
