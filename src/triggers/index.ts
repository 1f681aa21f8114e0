export { DropFolder, type DropFolderInit, type WatchEvent } from './drop-folder.js'
export { decodeMessages, MessageRouter, MESSAGE_TYPES, type AcceptedBatch, type MessageRow, type MessageRouterInit } from './messages.js'
export { RunQueue, type RunQueueInit } from './run-queue.js'
export { Schedule, type ScheduleEvent, type ScheduleInit } from './schedule.js'
