import Foundation
#if MPI
import CMPI
#endif

/// How this process takes part in a run: alone, or as one rank of an MPI job.
public enum World {
    /// Whether lrt was built with the MPI trait (`swift build --traits MPI`).
    public static var mpiCompiledIn: Bool {
        #if MPI
        return true
        #else
        return false
        #endif
    }

    /// The MPI library's version line (`Open MPI v4.1.4, …`), or nil without the MPI trait.
    public static var mpiLibraryVersion: String? {
        #if MPI
        return MPICommunicator.libraryVersion
        #else
        return nil
        #endif
    }

    /// Whether a launcher (mpirun, srun) started this process as one rank of a job: it sets the rank
    /// count in the environment (Open MPI's `OMPI_COMM_WORLD_SIZE`, PMIx's `PMIX_RANK`, Slurm's PMI).
    public static var launchedByMPI: Bool {
        let environment = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"].contains { environment[$0] != nil }
    }

    /// The communicator of this process, set by ``start()``; single-process before that.
    public nonisolated(unsafe) private(set) static var communicator: any Communicator = SingleProcessCommunicator()

    /// Joins the MPI job when a launcher started this process and lrt has the MPI trait; otherwise
    /// (or when the job has one rank) the run is single-process. Call once, before any thread starts
    /// work and after any `exec`.
    /// - Returns: a warning to print, when mpirun started lrt but MPI is not compiled in.
    @discardableResult
    public static func start() throws(CommunicatorError) -> String? {
        guard launchedByMPI else { return nil }
        #if MPI
        communicator = try MPICommunicator.world()
        return nil
        #else
        let size = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] ?? "several"
        return "warning: started by an MPI launcher (\(size) ranks) but this lrt was built without MPI, so every rank trains alone: rebuild with `swift build -c release --traits MPI`"
        #endif
    }

    /// Ends MPI after a successful run (every rank must call it); nothing single-process.
    public static func finish() {
        #if MPI
        (communicator as? MPICommunicator)?.finalize()
        #endif
    }

    /// Stops every rank of the job with `code` after this rank failed (the others may be waiting in a
    /// collective, which would never return); returns single-process.
    public static func abortIfParallel(code: Int32) {
        #if MPI
        (communicator as? MPICommunicator)?.abort(code: code)
        #endif
    }
}
