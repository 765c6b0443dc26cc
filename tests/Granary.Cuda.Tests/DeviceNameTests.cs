namespace Granary.Cuda.Tests;

public class DeviceNameTests
{
    [Theory]
    [InlineData("cuda", 0)]
    [InlineData("cuda:0", 0)]
    [InlineData("cuda:3", 3)]
    public void CudaDevicesParse(string name, int ordinal) => Assert.Equal(ordinal, CudaBackendOptions.Parse(name)!.Device);

    [Theory]
    [InlineData("cpu")]
    [InlineData("cudax")]
    public void OtherNamesAreNotCuda(string name) => Assert.Null(CudaBackendOptions.Parse(name));

    [Theory]
    [InlineData("cuda:")]
    [InlineData("cuda:x")]
    [InlineData("cuda:-1")]
    public void MalformedOrdinalsAreRejected(string name)
    {
        var e = Assert.Throws<ArgumentException>(() => CudaBackendOptions.Parse(name));
        Assert.Contains(name, e.Message);
    }

    [Fact]
    public void UnknownDevicesListTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => Granary.Engine.BackendFactory.Create("tpu", 1));
        Assert.Contains("cuda:N", e.Message);
    }
}
