#if MPI
import CMPI
import Foundation

/// `MPI_COMM_WORLD` of an MPI job (Open MPI): errors are returned (`MPI_ERRORS_RETURN`) and thrown
/// as ``CommunicatorError`` naming the rank, and a watchdog thread stops the job when a collective
/// waits longer than ``collectiveTimeout`` (a rank hung or was stopped).
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    public var activity: String {
        get { watchdog.activity }
        set { watchdog.activity = newValue }
    }
    public var collectiveTimeout: Double {
        get { watchdog.timeout }
        set { watchdog.timeout = newValue }
    }
    private let communicator: MPI_Comm?
    private let watchdog: CollectiveWatchdog
    private var finalized = false

    private init(communicator: MPI_Comm?, rank: Int, size: Int) {
        self.communicator = communicator
        self.rank = rank
        self.size = size
        watchdog = CollectiveWatchdog(rank: rank, size: size)
    }

    /// Initializes MPI (funneled threads: only the main thread calls MPI) and returns `MPI_COMM_WORLD`.
    static func world() throws(CommunicatorError) -> MPICommunicator {
        var provided: Int32 = 0
        let code = MPI_Init_thread(nil, nil, lrt_MPI_THREAD_FUNNELED(), &provided)
        guard code == lrt_MPI_SUCCESS() else { throw .cannotStart("MPI_Init_thread returned \(errorString(code))") }
        let world = lrt_MPI_COMM_WORLD()
        MPI_Comm_set_errhandler(world, lrt_MPI_ERRORS_RETURN())
        var rank: Int32 = 0, size: Int32 = 0
        MPI_Comm_rank(world, &rank)
        MPI_Comm_size(world, &size)
        return MPICommunicator(communicator: world, rank: Int(rank), size: Int(size))
    }

    /// `MPI_Get_library_version` (callable before `MPI_Init`), first line.
    static var libraryVersion: String {
        var buffer = [CChar](repeating: 0, count: Int(lrt_MPI_MAX_LIBRARY_VERSION_STRING()) + 1)
        var length: Int32 = 0
        MPI_Get_library_version(&buffer, &length)
        let text = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.split(whereSeparator: \.isNewline).first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? text
    }

    static func errorString(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(lrt_MPI_MAX_ERROR_STRING()) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &buffer, &length)
        return "\(String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)) (code \(code))"
    }

    private func check(_ code: Int32, _ operation: String) throws(CommunicatorError) {
        guard code != lrt_MPI_SUCCESS() else { return }
        throw .failed(operation: operation, rank: rank, size: size, activity: activity, message: Self.errorString(code))
    }

    private func allreduce(_ pointer: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype, operation: MPI_Op,
                           name: String) throws(CommunicatorError) {
        precondition(count <= Int(Int32.max), "allreduce of \(count) elements: split it")
        watchdog.enter(name)
        defer { watchdog.leave() }
        try check(MPI_Allreduce(lrt_MPI_IN_PLACE(), pointer, Int32(count), type, operation, communicator), name)
    }

    public func allreduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws(CommunicatorError) {
        try allreduce(values.baseAddress, count: values.count, type: lrt_MPI_FLOAT(), operation: lrt_MPI_SUM(), name: "MPI_Allreduce")
    }

    public func allreduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws(CommunicatorError) {
        try allreduce(values.baseAddress, count: values.count, type: lrt_MPI_DOUBLE(), operation: lrt_MPI_SUM(), name: "MPI_Allreduce")
    }

    public func allreduceMaximum(_ values: UnsafeMutableBufferPointer<Double>) throws(CommunicatorError) {
        try allreduce(values.baseAddress, count: values.count, type: lrt_MPI_DOUBLE(), operation: lrt_MPI_MAX(), name: "MPI_Allreduce")
    }

    public func broadcast(_ values: UnsafeMutableBufferPointer<Float>, from root: Int) throws(CommunicatorError) {
        precondition(values.count <= Int(Int32.max), "broadcast of \(values.count) elements: split it")
        watchdog.enter("MPI_Bcast")
        defer { watchdog.leave() }
        try check(MPI_Bcast(values.baseAddress, Int32(values.count), lrt_MPI_FLOAT(), Int32(root), communicator), "MPI_Bcast")
    }

    public func barrier() throws(CommunicatorError) {
        watchdog.enter("MPI_Barrier")
        defer { watchdog.leave() }
        try check(MPI_Barrier(communicator), "MPI_Barrier")
    }

    func finalize() {
        guard !finalized else { return }
        finalized = true
        watchdog.enter("MPI_Finalize")  // waits for every rank
        MPI_Finalize()
        watchdog.leave()
    }

    func abort(code: Int32) {
        guard !finalized, size > 1 else { return }
        MPI_Abort(communicator, code)
    }
}

/// Watches the collective in progress from a thread of its own: one that waits longer than `timeout`
/// seconds ends this process with a message naming the rank, the operation and the activity, and
/// mpirun then stops the others. Ending this process cannot touch the last checkpoint: checkpoints
/// are written to a temporary file and renamed.
final class CollectiveWatchdog: @unchecked Sendable {  // every field is guarded by `lock`
    private let lock = NSCondition()
    private let rank: Int, size: Int
    private var operation: String?
    private var started = 0.0
    private var currentActivity = ""
    private var currentTimeout = 0.0
    private var thread: Thread?

    init(rank: Int, size: Int) {
        self.rank = rank
        self.size = size
    }

    var activity: String {
        get { lock.withLock { currentActivity } }
        set { lock.withLock { currentActivity = newValue } }
    }

    var timeout: Double {
        get { lock.withLock { currentTimeout } }
        set {
            lock.withLock { currentTimeout = newValue }
            if newValue > 0 && thread == nil {
                let thread = Thread { [unowned self] in self.watch() }
                thread.name = "lrt collective watchdog"
                thread.start()
                self.thread = thread
            }
        }
    }

    func enter(_ operation: String) {
        lock.withLock {
            self.operation = operation
            started = Self.now()
        }
    }

    func leave() { lock.withLock { operation = nil } }

    private static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    private func watch() {
        while true {
            Thread.sleep(forTimeInterval: 0.2)
            lock.lock()
            let waited = Self.now() - started
            guard let operation, currentTimeout > 0, waited > currentTimeout else {
                lock.unlock()
                continue
            }
            let during = currentActivity.isEmpty ? "" : " during \(currentActivity)"
            let message = "lrt: rank \(rank) of \(size): \(operation)\(during) waited \(String(format: "%.0f", waited)) s for the other ranks (--collective-timeout \(String(format: "%g", currentTimeout))): a rank hung, stopped or died; stopping the job. The last checkpoint is intact: continue with `lrt resume`\n"
            FileHandle.standardError.write(Data(message.utf8))
            _exit(75)  // EX_TEMPFAIL; mpirun then ends the other ranks
        }
    }
}
#endif
